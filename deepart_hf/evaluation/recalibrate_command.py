"""deepart-hf calibrate: re-fit a saved detector's decision threshold on images from your own collection, and
save it as a new model folder that ``predict``, ``evaluate`` and the demo use as they are.

  deepart-hf calibrate --model M --human DIR [--ai DIR] [--target_fpr 0.05] --output_dir M2 [--overwrite]

A threshold fitted on one source's validation split does not hold on another: a detector can rank another
collection's images well and still call every human artwork of it AI-made at its own threshold. A few dozen
human images known to be human fix that: the new threshold is the lowest one that calls at most
``--target_fpr`` of them AI-made. With AI images too (``--ai``), the temperature is re-fitted as well, exactly as
after training (``evaluation/calibration.py``); with human images alone it is kept.

Inputs are read as ``predict`` reads them (files, folders, globs, zip archives). M is never written to. M2 holds
the model, its image processor and ``calibration.json``: the calibration with its provenance (the folders, how
many images, the target, the date, the FPR reached on those images, what to expect on new ones) and the
calibration it replaced. Fewer human images than 1/target measure the FPR too coarsely to fit it: that is
refused (training falls back to the argmax instead, since a run must finish; here the argmax would silently
replace a fitted threshold).
"""

from __future__ import annotations

import argparse

from ..constants import DEFAULT_TARGET_FPR


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="a trained detector: run folder or Hub id (never written to)")
    parser.add_argument(
        "--human",
        action="append",
        required=True,
        help="images known to be human-made: files, folders, globs or zip archives; repeat for more",
    )
    parser.add_argument(
        "--ai", action="append", default=[], help="images known to be AI-made (optional): the temperature is re-fitted"
    )
    parser.add_argument(
        "--target_fpr",
        type=float,
        default=DEFAULT_TARGET_FPR,
        help="share of the human images that may be called ai (default 0.05); needs at least 1/target human images",
    )
    parser.add_argument("--output_dir", required=True, help="folder for the re-calibrated model (a new folder)")
    parser.add_argument("--overwrite", action="store_true", help="replace --output_dir if this command wrote it")
    parser.add_argument("--batch_size", type=int, default=16)


def main(args: argparse.Namespace) -> int:
    from .recalibrate import main as run  # the work (numpy, torch, transformers) loads here, not for --help

    return run(args)
