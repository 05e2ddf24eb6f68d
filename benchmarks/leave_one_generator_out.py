"""Recipes compared on generators they never saw: leave one generator out on the art-game half.

The art-game half (250 human artworks of many styles, 250 from DALL·E, Midjourney and Stable Diffusion; every image
a 512×512 JPEG) is built with its generator from the file names, then each recipe runs as a user would run it:

    deepart-hf build folder --source ../shared/data/art-game-half --out DATA \\
        --name-pattern 'ai=(?P<generator>[^-]+)-img_' 'human=(?P<collection>[^-]+)-(?P<style>[^-]+)-img_'
    deepart-hf cross-eval --dataset DATA --leave_one_generator_out --output_dir OUT/RECIPE [RECIPE's train.py flags]

(human split 6:1:3, seed 42, the same for every fold and recipe). Each recipe's time is the whole cross-eval call:
three trainings, their test predictions, the report.

A combination (``COMBINATIONS``) runs its member recipes (once per invocation, whoever asks first), then scores each
fold's test images by the mean of the members' calibrated log-odds, read from their ``predictions.csv``, against
the mean of their calibrated thresholds: what averaging the two saved detectors' log-odds would give, not one
saved detector. Its time is its members' together.

    python benchmarks/leave_one_generator_out.py                           # every recipe
    python benchmarks/leave_one_generator_out.py --recipes lite0-probe     # one

Saves benchmarks/results/leave_one_generator_out-<recipe>.json, one file per recipe.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from calibration_sample_size import machine
from generator_features import build_art_game_half

from deepart_hf import load_detector
from deepart_hf.cli import main as deepart_hf_cli
from deepart_hf.evaluation.intervals import metric_intervals
from deepart_hf.evaluation.predictions import read_predictions_csv
from deepart_hf.files import write_json
from deepart_hf.research.generator_folds import fold_means

HERE = Path(__file__).resolve().parent
COMMON = ["--per_device_eval_batch_size", "32", "--dataloader_num_workers", "0", "--save_strategy", "no"]
COMMON += ["--robustness", "none", "--n_resamples", "1000", "--seed", "42"]


def probe(model: str = "efficientnet-lite0-linear", image_size: int = 224) -> list[str]:
    """A linear probe's flags, the same for every backbone (at its native input size)."""
    flags = ["--model", model, "--image_size", str(image_size), "--per_device_train_batch_size", "32"]
    return flags + ["--learning_rate", "1e-2", "--weight_decay", "0", "--lr_scheduler_type", "cosine"]


PROBE = probe()
TWO_VIEWS = ["--model", "efficientnet-lite0-linear", "--probe_views", "resize,native", "--image_size", "512"]
TWO_VIEWS += ["--per_device_train_batch_size", "32", "--learning_rate", "1e-3", "--weight_decay", "0.1"]
TWO_VIEWS += ["--lr_scheduler_type", "cosine", "--num_train_epochs", "100"]
FINE_TUNE = ["--model", "efficientnet-lite0", "--image_size", "224", "--per_device_train_batch_size", "16"]
FINE_TUNE += ["--learning_rate", "5e-4", "--lr_scheduler_type", "cosine", "--warmup_steps", "0.1"]
RECIPES = {  # name: (what it is, its train.py flags)
    "lite0-probe": (
        "EfficientNet-Lite0 linear probe (last layer), whole image resized to 224, 1 epoch (10 steps of batch 32)",
        [*PROBE, "--num_train_epochs", "1"],
    ),
    "lite0-probe-native": (
        "the same probe on native 224-pixel crops (one random crop per image and epoch; 5 fixed crops averaged at test)",
        [*PROBE, "--num_train_epochs", "1", "--preprocess", "crop", "--eval_crops", "5"],
    ),
    "lite0-probe-3stages": (
        "the Lite0 probe on three stages' pooled features (--probe_stages 3), otherwise the same",
        [*PROBE, "--num_train_epochs", "1", "--probe_stages", "3"],
    ),
    "lite1-probe": (
        "the same probe on EfficientNet-Lite1 at its native 240 pixels",
        [*probe("efficientnet-lite1-linear", 240), "--num_train_epochs", "1"],
    ),
    "lite2-probe": (
        "the same probe on EfficientNet-Lite2 at its native 260 pixels",
        [*probe("efficientnet-lite2-linear", 260), "--num_train_epochs", "1"],
    ),
    "lite2-probe-3stages": (
        "the Lite2 probe on three stages' pooled features",
        [*probe("efficientnet-lite2-linear", 260), "--num_train_epochs", "1", "--probe_stages", "3"],
    ),
    "lite0-probe-views": (
        "EfficientNet-Lite0 linear probe on two views, the image resized to 224 and its native 512 pixels, features "
        "concatenated; 100 epochs (1000 steps of batch 32), lr 1e-3, weight decay 0.1, chosen on the folds' "
        "validation splits by benchmarks/probe_views_tuning.py",
        TWO_VIEWS,
    ),
    "lite0-probe-views-3stages": (
        "the two-view probe on three stages' pooled features of each view (--probe_stages 3), its head recipe "
        "carried over from the two-view probe (not tuned again)",
        [*TWO_VIEWS, "--probe_stages", "3"],
    ),
    "lite0-finetune": (
        "EfficientNet-Lite0 fine-tuned from ImageNet, resized to 224, 3 epochs of batch 16 (57 steps)",
        [*FINE_TUNE, "--num_train_epochs", "3"],
    ),
    "lite0-finetune-blurjpeg": (
        "the same with blur + JPEG augmentation (each with p 0.5; Wang et al. 2020)",
        [*FINE_TUNE, "--num_train_epochs", "3", "--blur_jpeg_prob", "0.5"],
    ),
    "npr": (
        "NPR from scratch, SAFE's recipe (--protocol safe: 256-pixel native crops), 2 epochs instead of 20",
        ["--protocol", "safe", "--model", "npr", "--num_train_epochs", "2", "--per_device_train_batch_size", "32"],
    ),
    "safe": (
        "SAFE from scratch, its own recipe (--protocol safe), 2 epochs instead of 20",
        ["--protocol", "safe", "--num_train_epochs", "2", "--per_device_train_batch_size", "32"],
    ),
    "npr-20epochs": (
        "NPR from scratch at SAFE's recipe's own 20 epochs (--protocol safe)",
        ["--protocol", "safe", "--model", "npr", "--per_device_train_batch_size", "32"],
    ),
    "safe-20epochs": (
        "SAFE from scratch at its own recipe's 20 epochs (--protocol safe)",
        ["--protocol", "safe", "--per_device_train_batch_size", "32"],
    ),
}

COMBINATIONS = {  # name: (what it is, its member recipes)
    "views-3stages+finetune": (
        "the mean of the calibrated log-odds of the two-view three-stage probe and the 3-epoch fine-tune, which fail "
        "on different generators; decided at the mean of their calibrated thresholds",
        ["lite0-probe-views-3stages", "lite0-finetune"],
    ),
    "npr+views-3stages": (
        "the mean of the calibrated log-odds of NPR at its own 20 epochs and the two-view three-stage probe, which "
        "fail on different generators (NPR on Midjourney, the probe on Stable Diffusion); decided at the mean of "
        "their calibrated thresholds",
        ["npr-20epochs", "lite0-probe-views-3stages"],
    ),
}


def run_recipe(data: Path, work: Path, name: str) -> dict:
    if name in COMBINATIONS:
        return run_combination(data, work, name)
    description, flags = RECIPES[name]
    out = work / name
    if (out / "cross_source.json").is_file():  # already run in this invocation, as a combination's member
        return json.loads((out / "benchmark.json").read_text(encoding="utf-8"))
    argv = [
        "cross-eval",
        "--dataset",
        str(data),
        "--leave_one_generator_out",
        "--output_dir",
        str(out),
        *flags,
        *COMMON,
    ]
    load_before, started, cpu_started = os.getloadavg(), time.perf_counter(), time.process_time()
    assert deepart_hf_cli(argv) == 0
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    report = json.loads((out / "cross_source.json").read_text(encoding="utf-8"))
    result = {
        "recipe": name,
        "description": description,
        "command": "deepart-hf " + " ".join(argv).replace(str(data), "DATA").replace(str(out), f"OUT/{name}"),
        "seconds": round(seconds, 1),
        # this process's CPU time (both cores' threads): a cost the other jobs on a shared machine do not inflate
        "cpu_seconds": round(cpu_seconds, 1),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "mean": report["mean"],
        "folds": {
            g: {key: entry["metrics"][key] for key in ("auroc", "mean_accuracy", "human_accuracy", "ai_accuracy")}
            for g, entry in report["leave_one_generator_out"].items()
        },
        "human_split": report["human_split"],
        "markdown": (out / "cross_source.md").read_text(encoding="utf-8"),
    }
    write_json(out / "benchmark.json", result)
    return result


def run_combination(data: Path, work: Path, name: str) -> dict:
    description, members = COMBINATIONS[name]
    runs = {member: run_recipe(data, work, member) for member in members}
    folds = {}
    for generator in runs[members[0]]["folds"]:
        scored = [read_predictions_csv(work / m / f"train-without-{generator}" / "predictions.csv") for m in members]
        if any(list(s["id"]) != list(scored[0]["id"]) for s in scored):
            raise SystemExit(f"{name}: the members' test images differ in the fold without {generator}")
        thresholds = [
            load_detector(work / m / f"train-without-{generator}").calibration.threshold_log_odds for m in members
        ]
        metrics = metric_intervals(
            scored[0]["label"],
            np.mean([s["log_odds_ai"] for s in scored], axis=0),
            threshold_log_odds=float(np.mean(thresholds)),
            n_resamples=int(COMMON[COMMON.index("--n_resamples") + 1]),
        )
        folds[generator] = {"metrics": metrics}
    return {
        "recipe": name,
        "description": description,
        "members": members,
        "command": " && ".join(runs[m]["command"] for m in members) + " (then the mean of their log-odds per fold)",
        "seconds": round(sum(runs[m]["seconds"] for m in members), 1),
        "cpu_seconds": round(sum(runs[m]["cpu_seconds"] for m in members), 1),
        "load_average_before": runs[members[0]]["load_average_before"],
        "load_average_after": runs[members[-1]]["load_average_after"],
        "mean": fold_means(folds),
        "folds": {
            g: {key: entry["metrics"][key] for key in ("auroc", "mean_accuracy", "human_accuracy", "ai_accuracy")}
            for g, entry in folds.items()
        },
        "member_means": {m: runs[m]["mean"] for m in members},
        "human_split": runs[members[0]]["human_split"],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = [*RECIPES, *COMBINATIONS]
    parser.add_argument("--recipes", default=",".join(names), help=f"comma list of {', '.join(names)}")
    parser.add_argument("--out_dir", default=str(HERE / "results"))
    parser.add_argument(
        "--work_dir",
        default=None,
        help="where the dataset and runs are written (default: the system's temporary folder)",
    )
    parser.add_argument("--threads", type=int, help="torch's CPU threads (default: every core)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads or max(1, os.cpu_count() or 1))
    with tempfile.TemporaryDirectory(prefix="leave-one-generator-out-", dir=args.work_dir) as tmp:
        data = build_art_game_half(Path(tmp))
        for name in args.recipes.split(","):
            result = run_recipe(data, Path(tmp), name)
            mean = result["mean"]
            print(
                f"{name}: mean AUROC {mean['auroc']['value']:.3f}, mean accuracy {mean['mean_accuracy']['value']:.3f}, "
                f"{result['seconds'] / 60:.1f} min, load {result['load_average_before']} -> {result['load_average_after']}"
            )
            write_json(
                Path(args.out_dir) / f"leave_one_generator_out-{name}.json",
                {
                    "command": "python benchmarks/leave_one_generator_out.py --recipes " + name,
                    "machine": machine() | {"torch_threads": torch.get_num_threads()},
                    **result,
                },
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
