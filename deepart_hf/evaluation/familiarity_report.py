"""How familiar a dataset is to a detector, and what its decisions are worth on the familiar part.

A detector that carries familiarity data (``models.familiarity.Familiarity``: its training images' features)
measures each image's distance to its k-th nearest training image and calls the image unfamiliar above the
stored threshold. For a dataset this module gives:

* the share of unfamiliar images, and the coverage (the share of familiar ones), with Wilson intervals;
* the selective accuracy: the detector's accuracy and mean accuracy on the familiar images only, beside the
  same figures on all images, each with the project's intervals (``intervals.metric_intervals``);
* the familiarity AUROC: how well the distance tells the dataset's images from the in-distribution reference,
  0.5 when the dataset looks like the model's own test data, 1.0 when every image of it lies further out.

The reference. The in-distribution images are the model's own test split: held out like any new image, drawn
from the training data's sources. A training run saves their distances (``REFERENCE_FILE``, beside the model;
it travels with the run folder to the Hub), and that is the reference wherever it is found. A detector without
it (an ONNX export, a folder copied without it) falls back to the stored training images' own leave-one-out
distances, which the report names: the model has seen those images, so they lie closer together than held-out
ones and the AUROC against them reads somewhat higher. A dataset whose images are the reference's own images
(the same ids at the same distances) is the model's own test split: the report says so and gives no AUROC.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..cards import markdown_table
from ..constants import AI, HUMAN, N_RESAMPLES
from ..errors import DeepArtError
from ..files import write_json
from ..models.familiarity import REFERENCE_FILE
from .intervals import metric_intervals, wilson_interval
from .tables import interval_cell

TEST_SPLIT, TRAINING_IMAGES = "test split", "training images"
SAME_DISTANCE = 1e-4  # two computations of one image's distance (torch, ONNX, batch sizes) agree within this
NO_FAMILIARITY = "This detector carries no familiarity data (saved without it): no image is flagged as unfamiliar."
NOT_MEASURED = "Not measured: the streamed test split is read once, for its scores."
SELECTIVE_METRICS = ("mean_accuracy", "accuracy", "human_accuracy", "ai_accuracy")


@dataclass(frozen=True)
class Reference:
    """The in-distribution distances a dataset's are compared with: ``kind`` is ``TEST_SPLIT`` (the model's own
    test split, with its image ids) or ``TRAINING_IMAGES`` (the stored images' leave-one-out distances)."""

    distances: np.ndarray
    kind: str
    description: str
    ids: tuple[str, ...] | None = None

    def is_own(self, ids, distances) -> bool:
        """Whether ``ids`` at ``distances`` are images of this reference (the model's own test split, or part of it)."""
        if self.ids is None or not len(ids):
            return False
        # a run on several datasets names its test images "<dataset>/<image id>": each suffix after a "/" counts too
        where: dict[str, list[int]] = {}
        for index, image_id in enumerate(self.ids):
            parts = image_id.split("/")
            for start in range(len(parts)):
                where.setdefault("/".join(parts[start:]), []).append(index)
        distances = np.asarray(distances, dtype=np.float64)
        return all(
            np.any(np.abs(self.distances[where.get(str(image_id), [])] - distance) <= SAME_DISTANCE)
            for image_id, distance in zip(ids, distances)
        )

    def to_dict(self) -> dict:
        return {"kind": self.kind, "description": self.description, "n": len(self.distances)}


def save_reference(folder: str | os.PathLike, ids, distances, description: str) -> Path:
    """The model's own test-split distances, beside the model: the reference of every later evaluation."""
    distances = np.asarray(distances, dtype=np.float64)
    if len(ids) != len(distances):
        raise ValueError(f"{len(ids)} ids for {len(distances)} distances")
    Path(folder).mkdir(parents=True, exist_ok=True)
    payload = {"kind": TEST_SPLIT, "description": description, "ids": [str(i) for i in ids]}
    return write_json(Path(folder) / REFERENCE_FILE, {**payload, "distances": distances.tolist()})


def reference_folder(model: str | os.PathLike) -> Path | None:
    """Where the saved test-split distances of the detector ``model`` names would be: its folder (a run folder,
    an ONNX export folder or its model.onnx), or the Hub copy of its reference file; None when there is none."""
    path = Path(model)
    if path.is_dir():
        return path
    if path.is_file():
        return path.parent
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(str(model), REFERENCE_FILE)).parent
    except Exception:  # offline, no such file, no such repository: the stored distances are the reference then
        return None


def load_reference(folder: str | os.PathLike | None, familiarity) -> Reference:
    """The saved test-split reference of the detector in ``folder`` (a run folder), else the stored training
    images' leave-one-out distances of ``familiarity``. A damaged reference file is refused in one line."""
    path = Path(folder) / REFERENCE_FILE if folder is not None else None
    if path is None or not path.is_file():
        return Reference(
            np.asarray(familiarity.reference_distances, dtype=np.float64),
            TRAINING_IMAGES,
            f"the {len(familiarity.reference_distances)} stored training images' own leave-one-out distances "
            "(no saved test-split distances beside this detector)",
        )
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        distances = np.asarray(saved["distances"], dtype=np.float64)
        ids = tuple(str(i) for i in saved["ids"])
        if distances.ndim != 1 or len(ids) != len(distances) or not np.isfinite(distances).all():
            raise ValueError("ids and distances do not match")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DeepArtError(f"{path} is not a familiarity reference ({error}); delete it or retrain") from None
    return Reference(distances, TEST_SPLIT, str(saved.get("description", "the model's own test split")), ids)


def familiarity_auroc(reference: np.ndarray, distances: np.ndarray, *, n_resamples: int, seed: int = 0) -> dict:
    """AUROC of the distance telling ``distances`` (positive) from ``reference``, with its interval: the
    project's detector intervals, reading the reference as the "human" class and the dataset as "ai"."""
    labels = np.r_[np.full(len(reference), HUMAN), np.full(len(distances), AI)]
    scores = np.r_[np.asarray(reference, dtype=np.float64), np.asarray(distances, dtype=np.float64)]
    return metric_intervals(labels, scores, n_resamples=n_resamples, seed=seed)["auroc"]


def share(count: int, total: int) -> dict:
    """A proportion with its Wilson interval, as ``{"value", "low", "high"}`` (None without images)."""
    if total <= 0:
        return {"value": None, "low": None, "high": None}
    low, high = wilson_interval(count, total)
    return {"value": count / total, "low": low, "high": high}


def familiarity_metrics(
    distances,
    familiar,
    labels,
    log_odds,
    *,
    threshold_log_odds: float,
    reference: Reference,
    ids=None,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> dict:
    """The familiarity section of one dataset: share flagged, coverage, accuracy on all and on the familiar
    images only, and the familiarity AUROC against ``reference`` (None on the reference's own images)."""
    distances = np.asarray(distances, dtype=np.float64)
    familiar = np.asarray(familiar, dtype=bool)
    labels, log_odds = np.asarray(labels), np.asarray(log_odds, dtype=np.float64)
    n, n_familiar = len(distances), int(familiar.sum())
    interval = dict(threshold_log_odds=threshold_log_odds, n_resamples=n_resamples, seed=seed)
    everything = metric_intervals(labels, log_odds, **interval)
    selective = metric_intervals(labels[familiar], log_odds[familiar], **interval)
    own = reference.is_own([] if ids is None else ids, distances)
    auroc = (
        None if own or not n else familiarity_auroc(reference.distances, distances, n_resamples=n_resamples, seed=seed)
    )
    return {
        "n": n,
        "n_unfamiliar": n - n_familiar,
        "unfamiliar": share(n - n_familiar, n),
        "coverage": share(n_familiar, n),
        "median_distance": float(np.median(distances)) if n else None,
        "all": {key: everything[key] for key in SELECTIVE_METRICS},
        "familiar": {
            **{key: selective[key] for key in SELECTIVE_METRICS},
            "n": selective["n"],
            "n_human": selective["n_human"],
            "n_ai": selective["n_ai"],
        },
        "auroc": auroc,
        "own_test_split": own,
        "reference": reference.to_dict(),
    }


def familiarity_report(
    familiarity,
    distances,
    labels,
    log_odds,
    *,
    threshold_log_odds: float,
    reference: Reference,
    ids=None,
    datasets=None,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> dict:
    """``evaluation.json``'s familiarity entry: the detector's rule, the whole split's section and, for a mixed
    split (``datasets``: each image's dataset), one section per dataset."""
    distances = np.asarray(distances, dtype=np.float64)
    familiar = familiarity.familiar(distances)
    ids = None if ids is None else np.asarray([str(i) for i in ids], dtype=object)
    options = dict(threshold_log_odds=threshold_log_odds, reference=reference, n_resamples=n_resamples, seed=seed)
    report = {
        "rule": {"k": familiarity.k, "percentile": familiarity.percentile, "threshold": float(familiarity.threshold)},
        **familiarity_metrics(distances, familiar, labels, log_odds, ids=ids, **options),
    }
    if datasets is not None:
        datasets = np.asarray(datasets, dtype=object)
        report["per_dataset"] = {
            name: familiarity_metrics(
                distances[datasets == name],
                familiar[datasets == name],
                np.asarray(labels)[datasets == name],
                np.asarray(log_odds)[datasets == name],
                ids=None if ids is None else ids[datasets == name],
                **options,
            )
            for name in dict.fromkeys(datasets.tolist())
        }
    return report


def dataset_familiarity(
    familiarity,
    distances,
    labels,
    log_odds,
    *,
    threshold_log_odds: float,
    model_folder: str | os.PathLike | None = None,
    ids=None,
    datasets=None,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> dict:
    """The validity report's familiarity entry for a scored split: ``familiarity_report`` against the reference
    found in ``model_folder``, or a one-line note when the detector carries no familiarity data or the
    distances were not measured."""
    if familiarity is None:
        return {"note": NO_FAMILIARITY}
    if distances is None:
        return {"note": NOT_MEASURED}
    return familiarity_report(
        familiarity,
        distances,
        labels,
        log_odds,
        threshold_log_odds=threshold_log_odds,
        reference=load_reference(model_folder, familiarity),
        ids=ids,
        datasets=datasets,
        n_resamples=n_resamples,
        seed=seed,
    )


def auroc_cell(section: dict) -> str:
    if section["own_test_split"]:
        return "own test split"
    return interval_cell(section["auroc"])


def familiarity_markdown(report: dict | None) -> str:
    """The validity report's familiarity section (one line when the detector carries no familiarity data);
    nothing for a report written before familiarity was measured."""
    if report is None:
        return ""
    if "note" in report:
        return f"### Familiarity\n\n{report['note']}\n"
    rule, reference = report["rule"], report["reference"]
    sections = {"all images": report, **report.get("per_dataset", {})}
    rows = [
        [
            name,
            section["n"],
            f"{section['n_unfamiliar']} ({interval_cell(section['unfamiliar'])})",
            interval_cell(section["coverage"]),
            interval_cell(section["all"]["mean_accuracy"]),
            interval_cell(section["familiar"]["mean_accuracy"]),
            interval_cell(section["familiar"]["accuracy"]),
            auroc_cell(section),
        ]
        for name, section in sections.items()
    ]
    headers = ["images", "n", "unfamiliar (%)", "coverage %", "mean acc. %, all", "mean acc. %, familiar"]
    headers += ["acc. %, familiar", "familiarity AUROC %"]
    lines = [
        "### Familiarity",
        "",
        f"- An image is unfamiliar when the cosine distance of its features to the k-th nearest stored training "
        f"image (k = {rule['k']}) exceeds {rule['threshold']:.4g}, the {rule['percentile']:g}th percentile of the stored "
        "images' own distances.",
        f"- {familiarity_line(report)}",
        f"- Familiarity AUROC: how well the distance tells these images from the reference, {reference['description']} "
        f"({reference['n']} images); 50% = as familiar as the reference.",
    ]
    if report["own_test_split"]:
        lines.append("- These images are the model's own test split: the in-distribution reference itself.")
    lines += ["", markdown_table(headers, rows), ""]
    return "\n".join(lines)


def percent_cell(entry: dict | None) -> str:
    """``{"value", "low", "high"}`` as "93.8% [85.0, 97.3]", for sentences."""
    cell = interval_cell(entry)
    return cell if cell == "n/a" else cell.replace(" [", "% [", 1)


def familiarity_line(report: dict) -> str:
    """One sentence for the console: how many images look unlike the training data, and the selective accuracy."""
    if "note" in report:
        return f"Familiarity: {report['note']}"
    familiar = report["familiar"]
    return (
        f"{report['n_unfamiliar']} of {report['n']} images look unlike the training images "
        f"({percent_cell(report['unfamiliar'])}); on the {familiar['n']} familiar ones the mean accuracy is "
        f"{percent_cell(familiar['mean_accuracy'])} (all images: {percent_cell(report['all']['mean_accuracy'])})."
    )


__all__ = [
    "NOT_MEASURED",
    "NO_FAMILIARITY",
    "REFERENCE_FILE",
    "Reference",
    "dataset_familiarity",
    "familiarity_line",
    "familiarity_markdown",
    "familiarity_metrics",
    "familiarity_report",
    "load_reference",
    "reference_folder",
    "save_reference",
]
