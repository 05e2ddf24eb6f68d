"""deepart-hf evaluate: the validity report of a saved detector on a dataset's split.

Writes OUT/evaluation.json (every metric with its 95% interval and counts, the calibrated decision, the
perturbations, and, for a detector that carries familiarity data, the share of images unlike its training data,
the accuracy on the familiar ones and the familiarity AUROC against the model's own test split), OUT/evaluation.md,
OUT/predictions.csv, one plot per perturbation family and a reliability diagram.

  deepart-hf evaluate --model RUN_OR_ORG/NAME --dataset DIR_OR_ID [--dataset_config C] [--split test] --output_dir OUT
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..constants import N_RESAMPLES
from ..errors import DeepArtError
from .perturbations import ROBUSTNESS_HELP


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="a trained detector: run folder, Hub id, or an ONNX export")
    parser.add_argument(
        "--dataset", required=True, help="a dataset folder written by dataset_scripts/ or a Hub dataset id"
    )
    parser.add_argument("--dataset_config", default=None, help="configuration (subset)")
    parser.add_argument("--split", default="test", help="split to evaluate (default: test)")
    parser.add_argument(
        "--output_dir",
        required=True,
        help="folder for the report (created; existing report files are refused without --overwrite)",
    )
    parser.add_argument("--robustness", default="auto", help=ROBUSTNESS_HELP)
    parser.add_argument("--n_resamples", type=int, default=N_RESAMPLES, help="bootstrap resamples per interval")
    parser.add_argument("--max_samples", type=int, default=None, help="evaluate only N images (drawn with seed 0)")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing report in --output_dir")


def main(args: argparse.Namespace) -> int:
    # the work's modules (torch, datasets) load here, so that --help answers at once
    from ..data.loading import checked_split, load_splits
    from ..inference.detector import load_detector
    from ..models.scores import decisions_at
    from .familiarity_report import reference_folder
    from .perturbations import select_perturbations
    from .predictions import write_predictions_csv
    from .suite import evaluate_detector, report_markdown

    out = Path(args.output_dir)
    if (out / "evaluation.json").exists() and not args.overwrite:
        raise DeepArtError(f"{out} already holds a report (evaluation.json); pass --overwrite or another --output_dir")
    select_perturbations(args.robustness)  # a bad name is refused before anything loads
    detector = load_detector(args.model, batch_size=args.batch_size)
    where = f"dataset {args.dataset}" + (f" ({args.dataset_config})" if args.dataset_config else "")
    split = checked_split(load_splits(args.dataset, args.dataset_config), args.split, where, args.max_samples)
    perturbations = select_perturbations(args.robustness, len(split))
    title = f"Validity report: {Path(args.model.rstrip('/')).name} on {Path(args.dataset.rstrip('/')).name}"
    validity = evaluate_detector(
        detector,
        split,
        out,
        perturbations=perturbations,
        n_resamples=args.n_resamples,
        title=title,
        details={"model": args.model, "dataset": args.dataset, "split": args.split},
        model_folder=reference_folder(args.model) if detector.familiarity is not None else None,
    )
    report = validity.report
    predictions = decisions_at(validity.log_odds, detector.calibration.threshold_log_odds)
    write_predictions_csv(out / "predictions.csv", validity.ids, validity.labels, predictions, validity.log_odds)
    print(report_markdown(report, title))
    print(f"Wrote {', '.join(report['files'])}, predictions.csv to {out}")
    return 0
