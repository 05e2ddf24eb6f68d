"""From model outputs to the report: probabilities, Trainer metrics, prediction files, plots and tables.

The numbers themselves come from the ``detector_metric`` evaluate module; this module feeds it and turns
its results into files people read. Every file is written atomically (temporary file in the same folder,
then ``os.replace``), so an interrupted run never leaves a half-written CSV, JSON or PNG behind.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import math
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .constants import AI, HUMAN, ID2LABEL, LABELS
from .detector_metric.detector_metric import (
    FPR_BUDGETS,
    area_under_roc,
    class_accuracy_key,
    roc_curve_points,
    tpr_at_fpr,
    tpr_key,
)

logger = logging.getLogger(__name__)

DETECTOR_METRIC_DIR = Path(__file__).resolve().parent / "detector_metric"

# Flat names for the confusion-matrix cells, e.g. "cm_human_as_ai" = human images predicted ai.
CONFUSION_KEYS = {(true, pred): f"cm_{ID2LABEL[true]}_as_{ID2LABEL[pred]}" for true in ID2LABEL for pred in ID2LABEL}


def load_detector_metric(keep_in_memory: bool = True):
    """The DetectorMetric, loaded through ``evaluate.load`` from the packaged module folder.

    Loading a local folder never contacts the Hub, whatever the offline settings. ``keep_in_memory`` avoids
    evaluate's Arrow cache files and their locks, which only matter for multi-process evaluation. If the
    evaluate modules cache cannot be written (read-only home), the class is instantiated directly.
    """
    import evaluate

    try:
        return evaluate.load(str(DETECTOR_METRIC_DIR), module_type="metric", keep_in_memory=keep_in_memory)
    except OSError as error:
        logger.warning("evaluate.load(%s) failed (%s); using DetectorMetric directly", DETECTOR_METRIC_DIR, error)
        from .detector_metric.detector_metric import DetectorMetric

        return DetectorMetric(keep_in_memory=keep_in_memory)


def _logits_array(logits) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[1] != len(LABELS):
        raise ValueError(f"logits must have shape (N, {len(LABELS)}) for labels {LABELS}, got {logits.shape}")
    return logits


def probabilities_from_logits(logits: np.ndarray) -> np.ndarray:
    """Probability of "ai" for each row of (N, 2) logits, by a softmax that cannot overflow."""
    logits = _logits_array(logits)
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp[:, AI] / exp.sum(axis=1)


def predictions_from_logits(logits: np.ndarray) -> np.ndarray:
    """Predicted class id per row; equal logits go to the lower id (human), as in ``torch.argmax``."""
    return _logits_array(logits).argmax(axis=1)


def flat_scalar_metrics(results: dict) -> dict[str, float]:
    """Metric results as numbers only: confusion cells as ``cm_<true>_as_<predicted>``, None values dropped."""
    flat: dict[str, float] = {}
    for key, value in results.items():
        if key == "confusion_matrix":
            for (true, pred), cell_key in CONFUSION_KEYS.items():
                flat[cell_key] = int(value[true][pred])
        elif value is not None:
            flat[key] = value
    return flat


def make_compute_metrics(metric=None) -> Callable:
    """A ``compute_metrics`` function for ``transformers.Trainer``.

    It takes an ``EvalPrediction`` (logits (N, 2), label ids (N,)) and returns flat numbers, which the Trainer
    logs with an ``eval_`` prefix. Metrics that are undefined for the evaluated set (a single class) are
    left out rather than logged as None, so ``metric_for_best_model="mean_accuracy"`` needs both classes
    in the evaluation set.
    """
    metric = metric if metric is not None else load_detector_metric()

    def compute_metrics(eval_prediction) -> dict[str, float]:
        logits = eval_prediction.predictions
        # Models that return extra outputs (hidden states, attentions) hand the Trainer a tuple.
        if isinstance(logits, (tuple, list)):
            logits = logits[0]
        if eval_prediction.label_ids is None:
            raise ValueError("compute_metrics needs label ids; the evaluation dataset has no labels")
        results = metric.compute(
            predictions=predictions_from_logits(logits),
            references=np.asarray(eval_prediction.label_ids).reshape(-1),
            scores=probabilities_from_logits(logits),
        )
        return flat_scalar_metrics(results)

    return compute_metrics


@contextlib.contextmanager
def _atomic_destination(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path`, on failure it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    # os.open with 0o666 honours the umask, unlike tempfile's private 0o600 files.
    os.close(os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def write_predictions_csv(
    path: str | os.PathLike,
    ids: Sequence,
    references: Sequence[int],
    predictions: Sequence[int],
    scores: Sequence[float],
) -> Path:
    """One row per image: id, label, predicted (label names), prob_ai."""
    columns = {"id": ids, "references": references, "predictions": predictions, "scores": scores}
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"ids, references, predictions and scores must have the same length, got {lengths}")
    # str() of a numpy scalar is the shortest text that reads back to the same value in its own dtype.
    scores = np.asarray(scores)
    with _atomic_destination(path) as temporary:
        with open(temporary, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "label", "predicted", "prob_ai"])
            for image_id, reference, prediction, score in zip(ids, references, predictions, scores):
                writer.writerow([image_id, ID2LABEL[int(reference)], ID2LABEL[int(prediction)], str(score)])
    return Path(path)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def write_json(path: str | os.PathLike, obj) -> Path:
    """Pretty JSON; NaN and infinity are refused because strict JSON readers reject them."""
    text = json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False, default=_json_default)
    with _atomic_destination(path) as temporary:
        temporary.write_text(text + "\n", encoding="utf-8")
    return Path(path)


def _save_figure(figure: Figure, path: str | os.PathLike) -> Path:
    # A bare Figure with an Agg canvas leaves pyplot's global state and backend untouched.
    FigureCanvasAgg(figure)
    with _atomic_destination(path) as temporary:
        figure.savefig(temporary, format="png", dpi=150, bbox_inches="tight")
    return Path(path)


def plot_confusion_matrix(cm, path: str | os.PathLike, title: str = "Confusion matrix") -> Path:
    """Counts and row-normalised percentages (share of each true class), coloured by the percentage."""
    counts = np.asarray(cm, dtype=np.int64)
    if counts.shape != (len(LABELS), len(LABELS)):
        raise ValueError(f"confusion matrix must be {len(LABELS)}x{len(LABELS)}, got shape {counts.shape}")
    row_totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        row_shares = np.where(row_totals > 0, counts / row_totals, np.nan)

    figure = Figure(figsize=(4.5, 4))
    axes = figure.add_subplot()
    image = axes.imshow(np.nan_to_num(row_shares), cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="share of true class")
    for true in range(len(LABELS)):
        for pred in range(len(LABELS)):
            share = row_shares[true, pred]
            share_text = "n/a" if math.isnan(share) else f"{share:.1%}"
            axes.text(
                pred,
                true,
                f"{counts[true, pred]}\n{share_text}",
                ha="center",
                va="center",
                color="white" if not math.isnan(share) and share > 0.5 else "black",
            )
    axes.set_xticks(range(len(LABELS)), LABELS)
    axes.set_yticks(range(len(LABELS)), LABELS)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    return _save_figure(figure, path)


def plot_roc_curve(references, scores, path: str | os.PathLike, title: str = "ROC curve") -> Path:
    """ROC curve with AUROC in the legend, the chance diagonal and the TPR@FPR operating points marked.

    With a single class the ROC curve is undefined; the figure then says so instead of failing.
    """
    references = np.asarray(references, dtype=np.int64).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    figure = Figure(figsize=(5, 5))
    axes = figure.add_subplot()
    axes.set_title(title)
    axes.set_xlim(0.0, 1.0)
    axes.set_ylim(0.0, 1.02)
    axes.set_xlabel("false positive rate (human called ai)")
    axes.set_ylabel("true positive rate (ai called ai)")

    present = [ID2LABEL[label_id] for label_id in (HUMAN, AI) if np.any(references == label_id)]
    if len(present) < len(LABELS):
        only = f"only {present[0]} images" if present else "no images"
        axes.text(0.5, 0.5, f"ROC undefined:\n{only} in this set", ha="center", va="center", fontsize=12)
        return _save_figure(figure, path)

    fpr, tpr, _ = roc_curve_points(references, scores)
    auroc = area_under_roc(fpr, tpr)
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="chance")
    axes.plot(fpr, tpr, linewidth=2, label=f"detector (AUROC = {auroc:.3f})")
    for budget, marker in zip(FPR_BUDGETS, ("o", "s")):
        within = fpr <= budget + 1e-12
        best = np.flatnonzero(within)[np.argmax(tpr[within])]
        axes.axvline(budget, color="lightgrey", linewidth=0.8, linestyle=":")
        axes.plot(
            fpr[best],
            tpr[best],
            marker=marker,
            linestyle="none",
            label=f"TPR at FPR <= {budget:.0%}: {tpr_at_fpr(fpr, tpr, budget):.3f}",
        )
    axes.legend(loc="lower right", fontsize=8)
    return _save_figure(figure, path)


def plot_training_curves(log_history: list[dict], path: str | os.PathLike) -> Path:
    """Loss (training and evaluation) and evaluation accuracy against the optimisation step.

    Reads ``trainer.state.log_history``: training entries carry ``loss``, evaluation entries ``eval_*``.
    """

    def series(key: str) -> tuple[list[float], list[float]]:
        points = [(entry["step"], entry[key]) for entry in log_history if key in entry and "step" in entry]
        points = [(step, value) for step, value in points if value is not None]
        return [step for step, _ in points], [value for _, value in points]

    figure = Figure(figsize=(10, 4))
    loss_axes, accuracy_axes = figure.subplots(1, 2)

    loss_curves = {"training loss": series("loss"), "evaluation loss": series("eval_loss")}
    accuracy_curves = {
        "evaluation accuracy": series("eval_accuracy"),
        "evaluation mean accuracy": series("eval_mean_accuracy"),
    }
    for axes, curves, ylabel in (
        (loss_axes, loss_curves, "loss"),
        (accuracy_axes, accuracy_curves, "accuracy"),
    ):
        axes.set_xlabel("step")
        axes.set_ylabel(ylabel)
        drawn = False
        for label, (steps, values) in curves.items():
            if steps:
                axes.plot(steps, values, marker="o" if len(steps) < 30 else None, markersize=3, label=label)
                drawn = True
        if drawn:
            axes.legend(fontsize=8)
        else:
            axes.text(0.5, 0.5, f"no {ylabel} logged", ha="center", va="center", transform=axes.transAxes)
    accuracy_axes.set_ylim(0.0, 1.02)
    figure.suptitle("Training curves")
    return _save_figure(figure, path)


def _percent(value) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def format_results_table(metrics: dict, title: str | None = None) -> str:
    """The key numbers as an aligned text table of percentages; missing or None values read "n/a".

    The first three rows are the DeepArt paper's columns: accuracy on human images, on AI images, and their
    average. `metrics` is the DetectorMetric result (unprefixed keys).
    """
    rows = [
        (f"Accuracy ({ID2LABEL[HUMAN]})", _percent(metrics.get(class_accuracy_key(HUMAN)))),
        (f"Accuracy ({ID2LABEL[AI]})", _percent(metrics.get(class_accuracy_key(AI)))),
        ("Accuracy (mean of classes)", _percent(metrics.get("mean_accuracy"))),
        ("Accuracy (all images)", _percent(metrics.get("accuracy"))),
        ("AUROC", _percent(metrics.get("auroc"))),
        ("Average precision", _percent(metrics.get("average_precision"))),
    ]
    rows += [(f"TPR @ {budget:.0%} FPR", _percent(metrics.get(tpr_key(budget)))) for budget in FPR_BUDGETS]

    name_width = max(len(name) for name, _ in rows)
    value_width = max(len(value) for _, value in rows)
    lines = [f"{name:<{name_width}}  {value:>{value_width}}" for name, value in rows]
    if title:
        lines = [title, "-" * max(len(title), len(lines[0])), *lines]
    # The image counts go below the table: as a row they would widen the percentage column.
    if metrics.get("n") is not None:
        lines.append(
            f"n = {metrics['n']} ({metrics.get('n_human', '?')} {ID2LABEL[HUMAN]}, "
            f"{metrics.get('n_ai', '?')} {ID2LABEL[AI]})"
        )
    return "\n".join(lines)
