"""The validity report of a saved detector on one test split: every metric with its interval, the calibrated
decision, and what compression, blur, downscaling, format and colour do to it.

``evaluate_detector`` is its one entry point (``deepart-hf evaluate`` and every training run use it). It decodes
each test image once and scores it under every perturbation through the saved artifact (``inference.Detector``:
the same preprocessing, crops and calibration as every other tool), and clean too unless the caller has the
clean scores already, so the clean figures are exactly the run's ``predictions.csv``. It writes
``evaluation.json``, ``evaluation.md``, one plot per perturbation family and a reliability diagram.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..cards import markdown_table
from ..data.images import decode_image
from ..data.loading import DATASET_COLUMN
from ..files import atomic_destination, write_json
from ..inference.detector import Detector
from .calibration import expected_calibration_error
from .familiarity_report import dataset_familiarity, familiarity_markdown, save_reference
from .intervals import N_RESAMPLES, interval_width_warning, metric_intervals
from .perturbations import FAMILIES, PERTURBATIONS, Perturbation
from .plots import plot_reliability, plot_robustness
from .tables import interval_cell

SUMMARY_METRICS = (
    ("mean_accuracy", "mean acc."),
    ("human_accuracy", "human acc."),
    ("ai_accuracy", "AI acc."),
    ("auroc", "AUROC"),
    ("tpr_at_5_fpr", "TPR@5%FPR"),
)


@dataclass
class ScoredSplit:
    """A split's labels, clean log-odds, {perturbation label: log-odds}, ids, and the clean images' familiarity
    distances (None unless asked for and the detector carries familiarity data)."""

    labels: np.ndarray
    clean: np.ndarray
    perturbed: dict[str, np.ndarray]
    ids: list
    distances: np.ndarray | None = None


def score_split(detector: Detector, split, perturbations: Sequence[Perturbation] = PERTURBATIONS, **options):
    """(labels, clean log-odds, {perturbation label: log-odds}, ids): ``scored_split`` (and its ``options``) as a tuple."""
    scored = scored_split(detector, split, perturbations, **options)
    return scored.labels, scored.clean, scored.perturbed, scored.ids


def scored_split(
    detector: Detector,
    split,
    perturbations: Sequence[Perturbation] = PERTURBATIONS,
    *,
    description: str = "evaluating",
    score_clean: bool = True,
    distances: bool = False,
    workers: int | None = None,
) -> ScoredSplit:
    """Each image decoded once, all views scored (the clean view only with ``score_clean``, when the caller does
    not have its scores already); with ``distances``, the clean images' familiarity distances too, from the same
    forward pass as their scores, when the detector carries familiarity data.

    The image work (decoding, each view's perturbation, the processor) runs in ``workers`` threads (Pillow and
    torch release the GIL) a few batches ahead of the model, which scores one view of ``detector.batch_size``
    images per forward pass: the same batches, and so the same scores, as scoring each view's images in order.
    """
    raw = split.with_format(None)
    if "image" not in raw.column_names or "label" not in raw.column_names:
        raise ValueError(f"the split needs image and label columns, has {raw.column_names}")
    from datasets import Image as ImageFeature

    raw = raw.cast_column("image", ImageFeature(decode=False))
    labels = np.asarray(raw["label"], dtype=np.int64)
    ids = raw["image_id"] if "image_id" in raw.column_names else [str(i) for i in range(len(raw))]
    distances = distances and detector.familiarity is not None
    clean_view = score_clean or distances
    views = ([(CLEAN, "clean", None)] if clean_view else []) + [(p.label, p.family, p.apply) for p in perturbations]
    features = []
    scores = {name: [] for name, _, _ in views}
    n, batch = len(raw), detector.batch_size
    # one step = one forward pass: a view of one chunk of images
    steps = [(start, view) for start in range(0, n, batch) for view in range(len(views))]
    last_view = {family: index for index, (_, family, _) in enumerate(views)}
    bars = {
        family: tqdm(total=n, desc=f"{description}: {FAMILIES.get(family, family)}", unit="image", position=position)
        for position, family in enumerate(last_view)
    }
    decoded: dict[int, list[Future]] = {}
    workers = workers or min(8, (os.cpu_count() or 1) + 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:

        def submit(step: int) -> list[Future]:
            start, view = steps[step]
            if view == 0:  # the chunk's images, decoded once for all its views
                values = raw[start : start + batch]["image"]
                decoded[start] = [pool.submit(decode_image, value) for value in values]
            images = decoded.pop(start) if view == len(views) - 1 else decoded[start]
            return [pool.submit(view_pixels, detector.processor, image, views[view][2]) for image in images]

        pending = deque(submit(step) for step in range(min(AHEAD, len(steps))))
        try:
            for step, (_, view) in enumerate(steps):
                futures = pending.popleft()
                if step + AHEAD < len(steps):
                    pending.append(submit(step + AHEAD))
                pixels = torch.stack([future.result() for future in futures])
                name, family, _ = views[view]
                if name == CLEAN and distances:  # the features from the forward pass that scores the image
                    logits, batch_features = detector.backend.logits_and_features(pixels)
                    features.append(batch_features)
                else:
                    logits = detector.backend(pixels)
                scores[name].append(detector.log_odds_from_logits(logits))
                if last_view[family] == view:
                    bars[family].update(len(futures))
        finally:
            for futures in pending:
                for future in futures:
                    future.cancel()
            for bar in bars.values():
                bar.close()
    join = lambda parts: np.concatenate(parts) if parts else np.zeros(0)
    clean = scores.pop(CLEAN, [])
    measured = None
    if distances:
        measured = detector.familiarity.distances(np.concatenate(features)) if features else np.zeros(0)
    return ScoredSplit(labels, join(clean), {name: join(parts) for name, parts in scores.items()}, ids, measured)


CLEAN = "clean"
AHEAD = 3  # forward passes' worth of views prepared ahead: the model never waits, memory stays bounded


def view_pixels(processor, image: Future, perturb) -> torch.Tensor:
    """One image's view (``perturb`` of the decoded image, or the image itself) as the processor's pixel_values."""
    view = image.result()
    if perturb is not None:
        view = perturb(view)
    return processor(images=[view], return_tensors="pt")["pixel_values"][0]


def validity_report(
    detector: Detector,
    labels: np.ndarray,
    clean: np.ndarray,
    perturbed: dict[str, np.ndarray],
    perturbations: Sequence[Perturbation] = PERTURBATIONS,
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> dict:
    """The contents of ``evaluation.json`` from the scores."""
    calibration = detector.calibration
    threshold = calibration.threshold_log_odds
    interval = dict(threshold_log_odds=threshold, n_resamples=n_resamples, seed=seed)
    clean_metrics = metric_intervals(labels, clean, **interval)
    argmax_metrics = metric_intervals(labels, clean, **{**interval, "threshold_log_odds": 0.0})
    human_accuracy = clean_metrics["human_accuracy"]
    test_fpr = (
        None
        if human_accuracy["value"] is None
        else {
            "value": 1 - human_accuracy["value"],
            "low": 1 - human_accuracy["high"],
            "high": 1 - human_accuracy["low"],
        }
    )
    # The temperature is in the weights: multiplying it back undoes it (exactly for a single view per image).
    uncalibrated = clean * calibration.temperature
    report = {
        "clean": clean_metrics,
        "threshold": {
            "threshold_log_odds": threshold,
            "threshold_prob_ai": calibration.threshold,
            "target_fpr": calibration.target_fpr,
            "temperature": calibration.temperature,
            "method": calibration.method,
            "calibration_details": calibration.details,
            "test_fpr": test_fpr,
            "test_tpr": clean_metrics["ai_accuracy"],
            "test_ece_before": expected_calibration_error(labels, uncalibrated) if len(labels) else None,
            "test_ece_after": expected_calibration_error(labels, clean) if len(labels) else None,
            "argmax": {
                key: argmax_metrics[key] for key in ("accuracy", "human_accuracy", "ai_accuracy", "mean_accuracy")
            },
        },
        "perturbations": [
            {
                "name": p.name,
                "family": p.family,
                "param": p.param,
                "metrics": metric_intervals(labels, perturbed[p.label], **interval),
            }
            for p in perturbations
        ],
        "detector": repr(detector),
    }
    report["warning"] = interval_width_warning(clean_metrics)
    return report


def report_markdown(report: dict, title: str = "Validity report") -> str:
    """The human-readable summary: clean metrics, the decision, robustness, each with 95% intervals."""
    clean = report["clean"]
    headers = ["condition", *(name for _, name in SUMMARY_METRICS)]
    rows = [["clean", *(interval_cell(clean[key]) for key, _ in SUMMARY_METRICS)]]
    rows += [
        [f"{p['name']} {p['param']}", *(interval_cell(p["metrics"][key]) for key, _ in SUMMARY_METRICS)]
        for p in report["perturbations"]
    ]
    threshold = report["threshold"]
    lines = [
        f"## {title}",
        "",
        f"{clean['n']} test images ({clean['n_human']} human, {clean['n_ai']} ai). Each figure in % with its 95% "
        f"interval ({clean['interval']['method']}).",
        "",
    ]
    if report.get("warning"):
        lines += [f"**{report['warning']}**", ""]
    lines += [
        "### Decision",
        "",
        f"- Rule: `ai` when P(ai) >= {threshold['threshold_prob_ai']:.4g} (log-odds {threshold['threshold_log_odds']:.4g}); "
        f"{threshold['method']}.",
        f"- At that threshold on the test split: false-positive rate (human images called ai) {interval_cell(threshold['test_fpr'])}, "
        f"true-positive rate {interval_cell(threshold['test_tpr'])}.",
        f"- Argmax (P(ai) >= 0.5) for comparison: human acc. {interval_cell(threshold['argmax']['human_accuracy'])}, "
        f"AI acc. {interval_cell(threshold['argmax']['ai_accuracy'])}.",
    ]
    if threshold.get("test_ece_after") is not None:
        lines.append(
            f"- Expected calibration error on the test split: {threshold['test_ece_before']:.3f} before temperature "
            f"scaling (T = {threshold['temperature']:.3g}), {threshold['test_ece_after']:.3f} after."
        )
    lines += ["", familiarity_markdown(report.get("familiarity"))]
    lines += ["### Clean and perturbed test images", "", markdown_table(headers, rows), ""]
    return "\n".join(lines)


def write_report(
    report: dict, labels: np.ndarray, clean: np.ndarray, out: str | os.PathLike, title: str = "Validity report"
) -> list[str]:
    """evaluation.json, evaluation.md and the plots, into ``out``; returns the file names written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for family, description in FAMILIES.items():
        entries = [p for p in report["perturbations"] if p["family"] == family]
        if entries:
            name = f"robustness_{family}.png"
            plot_robustness(report["clean"], entries, out / name, title=f"{title}: {description}")
            written.append(name)
    if len(labels) and len(np.unique(labels)) == 2:
        plot_reliability(labels, clean * report["threshold"]["temperature"], clean, out / "reliability.png")
        written.append("reliability.png")
    with atomic_destination(out / "evaluation.md") as temporary:
        temporary.write_text(report_markdown(report, title), encoding="utf-8")
    write_json(out / "evaluation.json", report)
    return ["evaluation.json", "evaluation.md", *written]


@dataclass
class Validity:
    """The validity report (``evaluation.json``'s contents) and the clean scores it was computed from."""

    report: dict
    labels: np.ndarray
    log_odds: np.ndarray
    ids: list
    distances: np.ndarray | None = None  # each image's familiarity distance, when the detector carries familiarity


def evaluate_detector(
    detector: Detector,
    split,
    out,
    *,
    perturbations: Sequence[Perturbation] = PERTURBATIONS,
    n_resamples: int = N_RESAMPLES,
    title: str = "Validity report",
    clean: tuple[list, np.ndarray, np.ndarray] | None = None,
    clean_features: np.ndarray | None = None,
    details: dict | None = None,
    model_folder: str | os.PathLike | None = None,
    own_test_split: bool = False,
) -> Validity:
    """Score ``split`` (its images as stored) and write the validity report into ``out``.

    ``clean``: (ids, labels, log-odds) the caller computed already (a run's test predictions): only the
    perturbed views (and the clean images' familiarity) are scored then, and ``split`` may be None (a stream,
    read once: no perturbations, and no familiarity without ``clean_features``). ``clean_features``: with ``clean``, the clean images' features
    from the same pass (``models.features.recorded_image_features``): their familiarity is measured on them, so the
    clean images are not read again. A split with a ``dataset`` column (several datasets mixed) is also reported
    dataset by dataset. ``details``: entries added to the report as they are (the model, the dataset).

    Familiarity (when the detector carries it) is measured against the reference ``evaluation.familiarity_report``
    describes: ``model_folder`` is where the detector's saved test-split distances are looked for; with
    ``own_test_split`` (a training run) ``split`` is the model's own test split, and its distances are saved
    into ``model_folder`` as that reference."""
    if own_test_split and model_folder is None:
        raise ValueError("own_test_split saves the reference beside the model: pass model_folder")
    measure = split is not None and detector.familiarity is not None
    distances = None
    if clean is None:
        scored = scored_split(detector, split, perturbations, distances=measure)
        labels, log_odds, perturbed, ids, distances = (
            scored.labels, scored.clean, scored.perturbed, scored.ids, scored.distances
        )  # fmt: skip
    else:
        ids, labels, log_odds = clean
        perturbed = {}
        if detector.familiarity is not None and clean_features is not None:
            distances, measure = detector.familiarity.distances(clean_features), False
        if split is not None and (perturbations or measure):
            scored = scored_split(
                detector, split, perturbations, description="robustness checks", score_clean=False, distances=measure
            )
            perturbed, ids = scored.perturbed, ids if ids is not None else scored.ids
            distances = scored.distances if measure else distances
    report = validity_report(detector, labels, log_odds, perturbed, perturbations, n_resamples=n_resamples)
    mixed = split is not None and DATASET_COLUMN in split.column_names
    datasets = split.with_format(None)[DATASET_COLUMN] if mixed else None
    if mixed:
        report["per_dataset"] = per_dataset_metrics(
            datasets, labels, log_odds, detector.calibration.threshold_log_odds, n_resamples
        )
    if own_test_split and distances is not None:
        save_reference(model_folder, ids, distances, f"the model's own test split ({len(distances)} images)")
    report["familiarity"] = dataset_familiarity(
        detector.familiarity,
        distances,
        labels,
        log_odds,
        threshold_log_odds=detector.calibration.threshold_log_odds,
        model_folder=model_folder,
        ids=ids,
        datasets=datasets,
        n_resamples=n_resamples,
    )
    report.update(details or {})
    report["files"] = write_report(report, labels, log_odds, out, title)
    return Validity(report, labels, log_odds, ids, distances)


def per_dataset_metrics(datasets, references, log_odds, threshold_log_odds: float, n_resamples: int) -> dict:
    """Every metric with its interval for each dataset of a mixed test split."""
    datasets = np.asarray(datasets, dtype=object)
    return {
        name: metric_intervals(
            references[datasets == name],
            log_odds[datasets == name],
            threshold_log_odds=threshold_log_odds,
            n_resamples=n_resamples,
        )
        for name in dict.fromkeys(datasets.tolist())
    }


__all__ = ["Validity", "evaluate_detector", "report_markdown", "score_split", "validity_report", "write_report"]
