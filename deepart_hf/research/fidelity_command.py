"""Measure how AI images differ from human ones, feature by feature, with tests, effect sizes and intervals.

    deepart-hf fidelity --dataset data/deepart --config pairs --output_dir outputs/fidelity
    deepart-hf fidelity --dataset data/genres --output_dir outputs/fidelity-genres

Paired data (the DeepArt `pairs` configuration: each painting beside its re-creation) gets per-pair
differences (AI − human), Wilcoxon signed-rank tests with Holm correction and rank-biserial effects with
bootstrap 95% intervals; any other human/ai dataset gets Mann–Whitney tests and distances. Every feature is
computed again after re-encoding every image as JPEG q90, and the report marks features whose effect changes.
Writes fidelity.json, features.csv, report.md and figures to --output_dir.
"""

from __future__ import annotations

import argparse

from ..constants import N_BOOTSTRAP


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help="dataset folder written by dataset_scripts/, or a Hub id")
    parser.add_argument(
        "--config", default=None, help="configuration; `pairs` for DeepArt's painting/re-creation pairs"
    )
    parser.add_argument(
        "--output_dir", required=True, help="folder for fidelity.json, features.csv, report.md and figures"
    )
    parser.add_argument("--splits", default=None, help="comma-separated splits to use (default: every split)")
    parser.add_argument("--workers", type=int, default=2, help="processes computing features (default 2)")
    parser.add_argument(
        "--bootstrap", type=int, default=N_BOOTSTRAP, help=f"bootstrap resamples per interval (default {N_BOOTSTRAP})"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the results of an earlier run in --output_dir"
    )


def main(args: argparse.Namespace) -> int:
    from .fidelity_study import main as run  # the work (numpy, torch, datasets...) loads here, not for --help

    return run(args)
