"""How many human images does ``deepart-hf calibrate`` need for a target false-positive rate?

One detector (resnet10t from scratch on 64-pixel resized images of the synthetic set) scores two pools of human
images once: the DeepArt and genre-study samples' human images (another source, the case calibrate is for), and
the human images of a second synthetic build (its own source). Then, many times over, k images of a pool are drawn
at random, the threshold is fitted on them by two rules, and the FPR is measured on the rest of the pool:

* ``conformal``: the rule ``deepart-hf calibrate`` and training use (``evaluation.calibration.threshold_for_fpr``),
  k = floor((n + 1) * target) - 1 of the n images at or above the threshold;
* ``floor``: the rule they used before, k = floor(target * n), which keeps the FPR on the n images themselves
  within the target.

The figures: the mean held-out FPR, its 90th percentile, and how often it exceeds twice the target, beside what the
order statistics predict for any model (mean (k + 1)/(n + 1); ``evaluation.calibration.expected_fpr`` for the
conformal rule).

    python benchmarks/calibration_sample_size.py             # ~5 CPU minutes on 2 cores
    python benchmarks/calibration_sample_size.py --draws 200 --epochs 1   # a quick look

Prints a table and saves JSON under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from datasets import concatenate_datasets
from generalisation import build_sources
from tqdm.auto import tqdm

import deepart_hf
from deepart_hf.constants import HUMAN
from deepart_hf.data.loading import load_splits
from deepart_hf.evaluation.calibration import expected_fpr, minimum_human_images, threshold_for_fpr
from deepart_hf.evaluation.suite import score_split
from deepart_hf.files import write_json
from deepart_hf.training.arguments import parse_arguments
from deepart_hf.training.run import train

HERE = Path(__file__).resolve().parent
SIZES = {"other source": [19, 20, 30, 40, 50, 60], "same source": [19, 20, 50, 100, 200, 400]}
RULES = ("conformal", "floor")


def human_log_odds(detector, folders: list[Path]) -> np.ndarray:
    """Log-odds of every human image of these datasets, all splits together."""
    scores = []
    for folder in folders:
        splits = load_splits(str(folder))
        everything = concatenate_datasets([splits[name] for name in splits])
        labels, log_odds, _, _ = score_split(detector, everything, (), description=f"scoring {folder.name}")
        scores.append(log_odds[labels == HUMAN])
    return np.concatenate(scores)


def floor_threshold(scores: np.ndarray, target: float) -> float:
    """The previous rule: just above the (k+1)-th highest score, k = floor(target * n)."""
    allowed = int(np.floor(target * len(scores) + 1e-9))
    return float(np.nextafter(np.sort(scores)[::-1][allowed], np.inf))


def held_out_fprs(scores: np.ndarray, k: int, target: float, draws: int, rng) -> dict[str, np.ndarray]:
    fprs = {rule: np.empty(draws) for rule in RULES}
    for draw in range(draws):
        order = rng.permutation(len(scores))
        fitted, rest = scores[order[:k]], scores[order[k:]]
        thresholds = {
            "conformal": threshold_for_fpr(np.full(k, HUMAN), fitted, target)[0],
            "floor": floor_threshold(fitted, target),
        }
        for rule, threshold in thresholds.items():
            fprs[rule][draw] = np.mean(rest >= threshold)
    return fprs


def predicted(rule: str, k: int, target: float) -> tuple[float, float | None]:
    if rule == "conformal":
        return expected_fpr(k, target)
    allowed = int(np.floor(target * k + 1e-9))
    return (allowed + 1) / (k + 1), None


def machine() -> dict:
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((line.split(":", 1)[1].strip() for line in cpu.splitlines() if line.startswith("Model name")), "")
    return {
        "platform": platform.platform(),
        "cpu": model,
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "load_average": os.getloadavg(),
        "shared": "yes: other jobs ran on the same cores",
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default="0.05,0.1")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--image_size", type=int, default=64)
    parser.add_argument("--synthetic_per_class", type=int, default=100)
    parser.add_argument("--pool_per_class", type=int, default=300, help="human images of the second synthetic build")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(HERE / "results" / "calibration_sample_size.json"))
    args = parser.parse_args(argv)
    targets = [float(t) for t in args.targets.split(",")]
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory(prefix="calibration-sample-size-") as tmp:
        work = Path(tmp)
        folders = build_sources(work, ["synthetic", "deepart", "genres"], args.synthetic_per_class)
        pool = work / "data" / "synthetic-pool"
        deepart_hf.publish(
            deepart_hf.build("synthetic", n_per_class=args.pool_per_class, image_size=128, seed=args.seed + 1), pool
        )
        run_dir = work / "model"
        flags = ["--model", "resnet10t", "--from_scratch", "--image_size", str(args.image_size)]
        flags += ["--num_train_epochs", str(args.epochs), "--per_device_train_batch_size", "16"]
        flags += ["--dataloader_num_workers", "0", "--save_strategy", "no", "--robustness", "none"]
        train(parse_arguments(["--dataset", str(folders["synthetic"]), "--output_dir", str(run_dir), *flags]))
        detector = deepart_hf.load_detector(run_dir, batch_size=32)
        pools = {
            "other source": human_log_odds(detector, [folders["deepart"], folders["genres"]]),
            "same source": human_log_odds(detector, [pool]),
        }
        trained_threshold = detector.calibration.threshold_log_odds

    results = []
    for name, scores in pools.items():
        at_training_threshold = float(np.mean(scores >= trained_threshold))
        for target in targets:
            for k in tqdm(SIZES[name], desc=f"{name}, target {target:.0%}"):
                if k < minimum_human_images(target) or k >= len(scores) - 10:
                    continue
                fprs = held_out_fprs(scores, k, target, args.draws, rng)
                for rule in RULES:
                    mean, upper = predicted(rule, k, target)
                    results.append(
                        {
                            "pool": name,
                            "pool_size": len(scores),
                            "fpr_at_training_threshold": at_training_threshold,
                            "rule": rule,
                            "target_fpr": target,
                            "k": k,
                            "held_out": len(scores) - k,
                            "mean_fpr": float(fprs[rule].mean()),
                            "standard_error": float(fprs[rule].std(ddof=1) / np.sqrt(args.draws)),
                            "p90_fpr": float(np.quantile(fprs[rule], 0.9)),
                            "share_above_2x_target": float(np.mean(fprs[rule] > 2 * target)),
                            "predicted_mean_fpr": mean,
                            "predicted_upper_95_fpr": upper,
                        }
                    )

    header = (
        "| human images (pool) | target | n | rule | mean held-out FPR (± s.e.) | 90th pct | P(FPR > 2x target) | "
        "predicted mean | predicted 95% bound |"
    )
    lines = [header, "|" + " --- |" * 9]
    for r in results:
        bound = "" if r["predicted_upper_95_fpr"] is None else f"{r['predicted_upper_95_fpr']:.1%}"
        lines.append(
            f"| {r['pool']} ({r['pool_size']}) | {r['target_fpr']:.0%} | {r['k']} | {r['rule']} | "
            f"{r['mean_fpr']:.1%} (± {r['standard_error']:.2%}) | {r['p90_fpr']:.1%} | "
            f"{r['share_above_2x_target']:.0%} | {r['predicted_mean_fpr']:.1%} | {bound} |"
        )
    table = "\n".join(lines)
    print(table)
    for name, scores in pools.items():
        print(f"{name}: FPR at the threshold fitted in training: {np.mean(scores >= trained_threshold):.1%}")
    elapsed = time.perf_counter() - started
    print(f"{elapsed / 60:.1f} min; load average before {load_before}, after {os.getloadavg()}")
    write_json(
        args.out,
        {
            "command": "python benchmarks/calibration_sample_size.py " + " ".join(argv or sys.argv[1:]),
            "settings": vars(args),
            "model": f"resnet10t from scratch, {args.image_size}-pixel resize, {args.epochs} epochs on "
            f"{2 * args.synthetic_per_class} synthetic images",
            "machine": machine() | {"load_average_before": load_before},
            "seconds": round(elapsed, 1),
            "training_threshold_log_odds": trained_threshold,
            "results": results,
            "table": table,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
