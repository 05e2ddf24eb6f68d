"""Score image files with a trained detector: one row per file (prob_ai and a decision), and a summary.

    deepart-hf predict --model outputs/run painting.png scans/ 'inbox/**/*.jpg' batch.zip
    deepart-hf predict --model ORG/detector photos/ --output results.csv --uncertain 0.5

Inputs are files, folders (recursive: the files whose extension is an image format), glob patterns and .zip
archives (read in place). Any image Pillow reads works, in any size and mode. The decision is "ai" or "human"
at the detector's calibrated threshold, or "uncertain" when the log-odds lie within --uncertain of the threshold's. A generator-
attribution model (``train.py --task attribution``) also names each file's most probable class (``real`` or a
generator) and its probability; --output .json/.jsonl carry every class's probability. A detector that carries
its familiarity says whether each image is like its training images (``distance``, ``distance_percentile``,
``familiar``), how many are not, and, when many are not, what helps. A file that cannot be read gets a row with
its error and the others go on; the exit code is 1 when any file failed.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from ..console import setup_console
from ..errors import DeepArtError
from .decisions import (
    ERROR,
    add_uncertain_argument,
    check_uncertain,
    uncertain_interval,
)

if TYPE_CHECKING:  # the detector (torch, transformers) is imported when a model is loaded, not for --help
    from .detector import Detector, Row

OUTPUT_FORMATS = (".csv", ".jsonl", ".json")
COLUMNS = ["file", "prob_ai", "log_odds_ai", "decision", "error"]
ATTRIBUTION_COLUMNS = ["generator", "generator_prob"]  # after COLUMNS, for an attribution model
FAMILIARITY_COLUMNS = ["distance", "distance_percentile", "familiar"]  # last, for a detector that carries them
# When at least this share of the scored files is unlike the training images, the collection itself is: one line
# says so and what helps.
UNFAMILIAR_SHARE = 0.30
FAILED = 1  # exit code when at least one file could not be scored


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        required=True,
        help="a trained detector: run folder, Hub id, or an ONNX export (folder or model.onnx)",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders, glob patterns or .zip archives")
    add_uncertain_argument(parser)
    parser.add_argument("--output", type=Path, help="also write every row to this file: .csv, .jsonl or .json")
    parser.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    parser.add_argument("--batch_size", type=int, default=16, help="images per forward pass (default 16)")
    parser.add_argument("--workers", type=int, default=None, help="decoding threads (default: cores + 2, at most 8)")
    parser.add_argument("--device", default=None, help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("--quiet", action="store_true", help="print the summary only, not the table")


def main(args: argparse.Namespace) -> int:
    from .detector import load_detector
    from .inputs import expand_inputs

    setup_console()
    check_arguments(args)
    expanded = expand_inputs(args.paths)
    if not expanded.files:
        raise DeepArtError(f"no image files in {' '.join(args.paths)} ({expanded.skipped} other files skipped)")
    detector = load_detector(args.model, batch_size=args.batch_size, device=args.device)
    rows = score(detector, expanded.files, args.uncertain, args.workers)
    if not args.quiet:
        print(format_table(rows, generators=detector.is_attribution, familiarity=detector.familiarity is not None))
    print(summary_line(rows, detector, args.uncertain, expanded.skipped))
    advice = unfamiliar_advice(rows, args.model)
    if advice:
        print(advice)
    if args.output:
        try:
            write_rows(args.output, rows, detector, args.model, args.uncertain)
        except OSError as exc:  # a full disk, a quota: the earlier file, if any, is left as it was
            raise DeepArtError(f"cannot write --output {args.output}: {exc.strerror or exc}") from None
        print(f"Wrote {len(rows)} rows to {args.output}")
    return FAILED if any(row.failed for row in rows) else 0


def check_arguments(args: argparse.Namespace) -> None:
    """Everything that can be refused before the model loads and the images are read."""
    check_uncertain(args.uncertain)
    if args.batch_size < 1:
        raise DeepArtError(f"--batch_size must be at least 1, got {args.batch_size}")
    if args.output:
        if args.output.suffix.lower() not in OUTPUT_FORMATS:
            raise DeepArtError(f"--output {args.output}: use a {', '.join(OUTPUT_FORMATS)} file")
        if args.output.is_dir():
            raise DeepArtError(
                f"--output {args.output} is a folder; name a file in it, e.g. {args.output / 'predictions.csv'}"
            )
        if args.output.exists() and not args.overwrite:
            raise DeepArtError(f"--output {args.output} exists; pass --overwrite to replace it")


def score(detector: Detector, files: list, uncertain: float, workers: int | None) -> list[Row]:
    from tqdm.auto import tqdm

    # one batch needs no progress bar; tqdm's own TQDM_DISABLE and non-terminal checks apply beyond that
    with tqdm(
        total=len(files), desc="scoring", unit="img", leave=False, disable=len(files) <= detector.batch_size
    ) as bar:
        return detector.predict_rows(files, uncertain=uncertain, workers=workers, progress=bar.update)


def format_table(rows: list[Row], generators: bool = False, familiarity: bool = False) -> str:
    """The rows as text; ``generators``: with an attribution model's most probable class and its probability;
    ``familiarity``: with whether each image is like the training images ("no": unlike them)."""
    gwidth = max([len("generator"), *(len(row.generator or "") + 9 for row in rows)]) if generators else 0
    width = min(
        max([len("file"), *(len(row.file) for row in rows)]), max(20, shutil.get_terminal_size().columns - 28 - gwidth)
    )
    head = f"  {'generator':<{gwidth}}" if generators else ""
    familiar_head = f"  {'familiar':<8}" if familiarity else ""
    lines = [
        f"{'file':<{width}}  {'prob_ai':>8}{head}{familiar_head}  decision",
        f"{'-' * width}  {'-' * 8}{'  ' + '-' * gwidth if generators else ''}{'  ' + '-' * 8 if familiarity else ''}"
        f"  {'-' * 9}",
    ]
    for row in rows:
        name = row.file if len(row.file) <= width else "…" + row.file[-(width - 1) :]
        probability = "" if row.prob_ai is None else f"{row.prob_ai:.4f}"
        decision = f"{ERROR}: {row.error}" if row.failed else row.decision
        generator = (
            f"  {(f'{row.generator} ({row.generator_prob:.3f})' if row.generator else ''):<{gwidth}}"
            if generators
            else ""
        )
        familiar = f"  { ({True: 'yes', False: 'no'}.get(row.familiar, '')):<8}" if familiarity else ""
        lines.append(f"{name:<{width}}  {probability:>8}{generator}{familiar}  {decision}")
    return "\n".join(lines)


def summary_line(rows: list[Row], detector: Detector, uncertain: float, skipped: int) -> str:
    counts = Counter(row.decision for row in rows)
    calibration = detector.calibration
    kind = f"calibrated ({calibration.method})" if calibration.is_calibrated else "uncalibrated argmax"
    parts = [
        f"{len(rows)} files: {counts['ai']} ai, {counts['human']} human, {counts['uncertain']} uncertain, {counts[ERROR]} failed"
    ]
    parts.append(
        f"threshold P(ai) = {calibration.threshold:.3f}, {kind}"
        + (f", uncertain for P(ai) {uncertain_words(calibration.threshold_log_odds, uncertain)}" if uncertain else "")
    )
    line = f"{parts[0]} ({parts[1]})"
    familiarity = detector.familiarity
    measured = [row for row in rows if row.familiar is not None]
    if familiarity is not None and measured:
        unfamiliar = sum(not row.familiar for row in measured)
        line += (
            f"; {unfamiliar} of {len(measured)} unlike the training images (cosine distance to the k-th nearest, k = "
            f"{familiarity.k}, above {familiarity.threshold:.4g}, the training images' own {familiarity.percentile:g}th "
            "percentile)"
        )
    return line + (f"; {skipped} non-image files in folders or archives skipped" if skipped else "")


def unfamiliar_advice(rows: list[Row], model: str) -> str | None:
    """One line when at least ``UNFAMILIAR_SHARE`` of the scored files are unlike the training images: the scores
    and the threshold were not made for this collection, and what helps."""
    measured = [row for row in rows if row.familiar is not None]
    if not measured:
        return None
    share = sum(not row.familiar for row in measured) / len(measured)
    if share < UNFAMILIAR_SHARE:
        return None
    return (
        f"{share:.0%} of these images are unlike the images this detector learnt from, so its scores and threshold "
        f"were not made for them (it may call human work AI-made): re-fit the threshold on this collection with "
        f"`deepart-hf calibrate --model {model} --human FOLDER_OF_ITS_HUMAN_IMAGES --output_dir NEW_MODEL`."
    )


def uncertain_words(threshold_log_odds: float, uncertain: float) -> str:
    low, high = uncertain_interval(threshold_log_odds, uncertain)
    return f"{low:.3g}-{high:.3g} (log-odds within ±{uncertain:g} of the threshold's)"


def write_rows(path: Path, rows: list[Row], detector: Detector, model: str, uncertain: float) -> None:
    from ..files import atomic_destination, write_csv, write_json

    suffix = path.suffix.lower()
    extra = ATTRIBUTION_COLUMNS + ["class_probs"] if detector.is_attribution else []
    familiar = FAMILIARITY_COLUMNS if detector.familiarity is not None else []
    extra += familiar
    records = [{key: value for key, value in row.as_dict().items() if key in COLUMNS + extra} for row in rows]
    if suffix == ".json":
        calibration = detector.calibration
        write_json(
            path,
            {
                "model": model,
                "threshold_prob_ai": calibration.threshold,
                "threshold_log_odds": calibration.threshold_log_odds,
                "temperature": calibration.temperature,
                "uncertain": uncertain,
                "rows": records,
            },
        )
        return
    if suffix == ".jsonl":
        with atomic_destination(path) as temporary, open(temporary, "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
        return
    # floats are written exactly, so the file reads back to the scores printed by evaluation
    columns = COLUMNS + (ATTRIBUTION_COLUMNS if detector.is_attribution else []) + familiar
    write_csv(path, columns, ([record.get(column) for column in columns] for record in records))
