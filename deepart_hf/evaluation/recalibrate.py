"""The work of ``deepart-hf calibrate`` (``recalibrate_command.py``): re-fit a saved detector's decision threshold
(and, given AI images too, its temperature) on images of the collection it will be used on, and save the result
as a new model folder with its provenance."""

from __future__ import annotations

import argparse
import datetime
import os
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..constants import AI, DEFAULT_TARGET_FPR, HUMAN
from ..errors import DeepArtError
from ..files import atomic_folder
from ..inference.detector import Detector, load_detector
from ..models.calibration import Calibration
from .calibration import (
    apply_temperature,
    crop_logits,
    expected_fpr,
    fit_calibration,
    minimum_human_images,
    threshold_for_fpr,
)

PROVENANCE_FILE = "calibration.json"  # also marks a folder this command wrote, the only kind --overwrite replaces
IMAGES = "calibration"  # how the fit's messages name the images


def check_destination(model: str, output_dir: str, overwrite: bool) -> Path:
    out = Path(output_dir)
    if Path(model).exists():
        source, target = Path(model).resolve(), out.resolve()
        if target == source or source in target.parents or target in source.parents:
            raise DeepArtError(f"--output_dir {out} would write into or over --model {model}; choose a new folder")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not overwrite:
            raise DeepArtError(f"{out} already exists; pass --overwrite or choose another --output_dir")
        if not (out / PROVENANCE_FILE).is_file():
            raise DeepArtError(
                f"{out} holds files deepart-hf calibrate did not write (no {PROVENANCE_FILE}); not replacing it"
            )
    return out


def _crop_logits_of(detector: Detector, inputs: list[str], flag: str) -> np.ndarray:
    """(N, crops, 2) logits of every image, as the temperature fit needs them (a crop detector's per crop)."""
    logits = []
    with tqdm(desc=f"scoring {flag} images", unit="image") as bar:
        for batch in detector.prepared_batches(inputs):
            for item, pixels in batch:
                if not isinstance(pixels, torch.Tensor):
                    raise DeepArtError(f"--{flag}: cannot use {item.name}: {pixels}")
            examples = [{"pixel_values": pixels, "labels": 0} for _, pixels in batch]
            logits.append(crop_logits(detector.model, examples, detector.batch_size)[0])
            bar.update(len(batch))
    return np.concatenate(logits) if logits else np.zeros((0, 1, 2))


def _log_odds_of(detector: Detector, inputs: list[str], flag: str) -> np.ndarray:
    """Each image's log-odds exactly as ``predict`` computes them, so its decisions are the ones fitted here."""
    with tqdm(desc=f"scoring {flag} images", unit="image") as bar:
        rows = detector.predict_rows(inputs, progress=bar.update)
    for row in rows:
        if row.failed:
            raise DeepArtError(f"--{flag}: cannot use {row.file}: {row.error}")
    if not rows:
        raise DeepArtError(f"--{flag} {' '.join(map(str, inputs))}: no images found")
    return np.array([row.log_odds_ai for row in rows], dtype=np.float64)


def recalibrate(
    detector: Detector, human: list[str], ai: list[str] | None = None, target_fpr: float = DEFAULT_TARGET_FPR
) -> Calibration:
    """Re-fit ``detector``'s threshold on ``human`` images (and its temperature when ``ai`` images are given),
    in place: the temperature is baked into its head and the calibration stored in its config. Returns it."""
    if detector.is_attribution:
        raise DeepArtError("calibrate re-fits a human/ai detector's threshold; this is a generator-attribution model")
    if not 0.0 < target_fpr < 1.0:
        raise DeepArtError(f"--target_fpr must be between 0 and 1, got {target_fpr}")
    ai = list(ai or [])
    previous = detector.calibration
    human_log_odds = _log_odds_of(detector, human, "human")
    n_human = len(human_log_odds)
    threshold, how = threshold_for_fpr(np.full(n_human, HUMAN), human_log_odds, target_fpr, IMAGES)
    if threshold is None:
        raise DeepArtError(f"--human: {how} (better {minimum_human_images(target_fpr / 10)}); or a larger --target_fpr")
    details: dict = {}
    temperature, scaling = 1.0, f"temperature kept at {previous.temperature:.3g} (no ai images to re-fit it)"
    if ai:
        logits = np.concatenate([_crop_logits_of(detector, human, "human"), _crop_logits_of(detector, ai, "ai")])
        n_ai = len(logits) - n_human
        labels = np.array([HUMAN] * n_human + [AI] * n_ai)
        fitted = fit_calibration(logits, labels, target_fpr)
        temperature, details = fitted.temperature, dict(fitted.details)
        scaling = fitted.method.split(";")[0]
        if temperature != 1.0:
            apply_temperature(detector.model, temperature)
            human_log_odds = _log_odds_of(detector, human, "human")
    ai_log_odds = _log_odds_of(detector, ai, "ai") if ai else np.zeros(0)
    threshold, how = threshold_for_fpr(np.full(n_human, HUMAN), human_log_odds, target_fpr, IMAGES)
    mean_fpr, upper_fpr = expected_fpr(n_human, target_fpr)
    details["recalibration"] = {
        "model": _located(getattr(detector.model.config, "_name_or_path", "") or ""),
        "human": [_located(path) for path in human],
        "ai": [_located(path) for path in ai],
        "n_human": n_human,
        "n_ai": len(ai_log_odds),
        "target_fpr": target_fpr,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "fpr_on_these_images": float(np.mean(human_log_odds >= threshold)),
        "tpr_on_these_images": float(np.mean(ai_log_odds >= threshold)) if len(ai_log_odds) else None,
        "expected_fpr_on_new_images": mean_fpr,
        "fpr_upper_95_on_new_images": upper_fpr,
        "temperature_factor": temperature,  # divided into the head on top of the previous calibration's
    }
    details["previous_calibration"] = previous.to_dict()
    calibration = Calibration(
        temperature=previous.temperature * temperature,
        threshold_log_odds=threshold,
        target_fpr=target_fpr,
        method=f"re-calibrated on {n_human} human{f' and {len(ai_log_odds)} ai' if ai else ''} images of the "
        f"collection; {scaling}; {how}",
        details=details,
    )
    calibration.save_to(detector.model.config)
    detector.calibration = calibration
    return calibration


def _located(path: str) -> str:
    return str(Path(path).resolve()) if Path(path).exists() else str(path)


def save_recalibrated(detector: Detector, output_dir: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """The model, its processor, its familiarity (a new threshold leaves the training images where they were) and
    ``calibration.json``, written to a temporary folder and renamed into place."""
    out = Path(output_dir)
    with atomic_folder(out, PROVENANCE_FILE, detector.calibration.to_dict(), overwrite=overwrite) as temporary:
        detector.model.save_pretrained(temporary)
        detector.processor.save_pretrained(temporary)
        if detector.familiarity is not None:
            detector.familiarity.save(temporary)
    return out


def main(args: argparse.Namespace) -> int:
    out = check_destination(args.model, args.output_dir, args.overwrite)
    detector = load_detector(args.model, batch_size=args.batch_size)
    before = detector.calibration
    calibration = recalibrate(detector, args.human, args.ai, args.target_fpr)
    save_recalibrated(detector, out, overwrite=args.overwrite)
    done = calibration.details["recalibration"]
    print(
        f"Decision threshold P(ai) >= {calibration.threshold:.4g} (log-odds {calibration.threshold_log_odds:.4g}), "
        f"was {before.threshold:.4g}; temperature {calibration.temperature:.3g}, was {before.temperature:.3g}"
    )
    print(
        f"FPR on these {done['n_human']} human images: {done['fpr_on_these_images']:.1%}"
        + (f"; TPR on the {done['n_ai']} ai images: {done['tpr_on_these_images']:.1%}" if done["n_ai"] else "")
        + f". Expected FPR on new human images of this collection: {done['expected_fpr_on_new_images']:.1%} "
        f"(95% upper bound {done['fpr_upper_95_on_new_images']:.1%})"
    )
    print(f"Wrote the re-calibrated model and {PROVENANCE_FILE} to {out}")
    return 0


__all__ = ["expected_fpr", "minimum_human_images", "recalibrate", "save_recalibrated"]
