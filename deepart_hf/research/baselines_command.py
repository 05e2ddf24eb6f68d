"""Classical baselines: SVM, decision tree, random forest, KNN and logistic regression on downscaled pixels
(240 pixels, as in the Dall·E-vs-paintings project) and on the fidelity features, with the deep models' metrics and intervals.

    deepart-hf baselines --dataset data/deepart --output_dir outputs/baselines --features both --pixels 240

Each classifier is fitted on --train_split and tested on --test_split, and leaves what a trained detector leaves:
metrics.json (every metric with its 95% interval), predictions.csv, confusion_matrix.png and roc_curve.png, in
OUT/<features>/<model>/; OUT/report.md compares them all.

Memory stays bounded: each image is decoded, squashed to --pixels x --pixels and stored as float32 in a
preallocated matrix row, so only one full-size image is ever decoded at a time; the test split is decoded and
predicted in batches of BATCH images, so its matrix never exists whole. The training matrix is the one that
grows with the data; its size is checked against --max_memory_gb before any decoding.
"""

from __future__ import annotations

import argparse

from ..constants import N_RESAMPLES

FEATURE_SETS = ("pixels", "fidelity")
DEFAULT_PIXELS = 240  # the Dall·E-vs-paintings project's classical classifiers read 240-pixel images
DEFAULT_MAX_MEMORY_GB = 4.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help="dataset folder written by dataset_scripts/, or a Hub id")
    parser.add_argument("--config", default=None, help="configuration (an image-classification one, not pairs)")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument(
        "--features", choices=(*FEATURE_SETS, "both"), default="both", help="what the classifiers see (default both)"
    )
    parser.add_argument(
        "--pixels",
        type=int,
        default=DEFAULT_PIXELS,
        help=f"side of the downscaled image (default {DEFAULT_PIXELS}, as in the Dall·E-vs-paintings project)",
    )
    parser.add_argument("--train_split", default="train", help="split(s) to fit on, comma-separated (default train)")
    parser.add_argument("--test_split", default="test")
    parser.add_argument("--workers", type=int, default=2, help="processes computing fidelity features")
    parser.add_argument(
        "--bootstrap", type=int, default=N_RESAMPLES, help=f"bootstrap resamples per interval (default {N_RESAMPLES})"
    )
    parser.add_argument(
        "--max_memory_gb",
        type=float,
        default=DEFAULT_MAX_MEMORY_GB,
        help="refuse a pixel training matrix larger than this",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the results of an earlier run in --output_dir"
    )


def main(args: argparse.Namespace) -> int:
    from .baselines import main as run  # the work (numpy, torch, datasets...) loads here, not for --help

    return run(args)
