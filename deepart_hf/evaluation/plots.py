"""Pictures of a result: confusion matrix, ROC curve, training curves. Saved atomically, pyplot untouched."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import auc

from ..constants import AI, HUMAN, ID2LABEL, LABELS
from ..files import atomic_destination
from .detector_metric.detector_metric import FPR_BUDGETS, roc_curve_points, tpr_at_fpr


def save_figure(figure: Figure, path: str | os.PathLike) -> Path:
    # A bare Figure with an Agg canvas leaves pyplot's global state and backend untouched.
    FigureCanvasAgg(figure)
    with atomic_destination(path) as temporary:
        figure.savefig(temporary, format="png", dpi=150, bbox_inches="tight")
    return Path(path)


def plot_confusion_matrix(cm, path: str | os.PathLike, title: str = "Confusion matrix", labels=tuple(LABELS)) -> Path:
    """Counts and row-normalised percentages (share of each true class), coloured by the percentage; K x K for
    the K ``labels`` (human/ai, or the generators of an attribution)."""
    labels = list(labels)
    counts = np.asarray(cm, dtype=np.int64)
    if counts.shape != (len(labels), len(labels)):
        raise ValueError(f"confusion matrix must be {len(labels)}x{len(labels)}, got shape {counts.shape}")
    row_totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        row_shares = np.where(row_totals > 0, counts / row_totals, np.nan)

    side = max(4.0, 0.9 * len(labels) + 2.5)
    figure = Figure(figsize=(side + 0.5, side))
    axes = figure.add_subplot()
    image = axes.imshow(np.nan_to_num(row_shares), cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="share of true class")
    for true in range(len(labels)):
        for pred in range(len(labels)):
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
    axes.set_xticks(
        range(len(labels)), labels, rotation=45 if len(labels) > 3 else 0, ha="right" if len(labels) > 3 else "center"
    )
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    return save_figure(figure, path)


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
        return save_figure(figure, path)

    fpr, tpr, _ = roc_curve_points(references, scores)
    auroc = auc(fpr, tpr)
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
    return save_figure(figure, path)


def plot_training_curves(log_history: list[dict], path: str | os.PathLike) -> Path:
    """Loss (training and validation) and validation accuracy against the epoch.

    Reads the log of ``trainer.state.log_history``: training entries carry ``loss``, evaluation entries
    ``eval_*``. A two-stage run (frozen, then unfrozen) logs its epochs cumulatively, so both stages share one
    axis; a dotted line marks where the second begins.
    """

    def series(key: str) -> tuple[list[float], list[float]]:
        points = [
            (entry["epoch"], entry[key]) for entry in log_history if entry.get(key) is not None and "epoch" in entry
        ]
        return [epoch for epoch, _ in points], [value for _, value in points]

    stage_starts = []
    for before, after in zip(log_history, log_history[1:]):
        if before.get("stage") != after.get("stage") and "epoch" in before:
            stage_starts.append((before["epoch"], after.get("stage")))

    figure = Figure(figsize=(10, 4))
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    loss_curves = {"training loss": series("loss"), "validation loss": series("eval_loss")}
    accuracy_curves = {
        "validation accuracy": series("eval_accuracy"),
        "validation mean accuracy": series("eval_mean_accuracy"),
    }
    for axes, curves, ylabel in ((loss_axes, loss_curves, "loss"), (accuracy_axes, accuracy_curves, "accuracy")):
        axes.set_xlabel("epoch")
        axes.set_ylabel(ylabel)
        drawn = False
        for label, (epochs, values) in curves.items():
            if epochs:
                axes.plot(epochs, values, marker="o" if len(epochs) < 30 else None, markersize=3, label=label)
                drawn = True
        for epoch, stage in stage_starts:
            axes.axvline(epoch, color="grey", linestyle=":", linewidth=1)
            axes.text(epoch, 1.0, f" {stage}", transform=axes.get_xaxis_transform(), va="top", fontsize=8, color="grey")
        if drawn:
            axes.legend(fontsize=8)
        else:
            axes.text(0.5, 0.5, f"no {ylabel} logged", ha="center", va="center", transform=axes.transAxes)
    accuracy_axes.set_ylim(0.0, 1.02)
    figure.suptitle("Training curves")
    return save_figure(figure, path)


def plot_robustness(clean: dict, entries: list[dict], path: str | os.PathLike, title: str = "Robustness") -> Path:
    """Mean accuracy and AUROC against the strength of one perturbation family, with 95% bands; the clean
    figures as dashed lines with their own bands. Categorical parameters (formats) are evenly spaced."""
    figure = Figure(figsize=(6, 4))
    axes = figure.add_subplot()
    positions = np.arange(len(entries))
    for key, label, colour in (("mean_accuracy", "mean accuracy", "tab:blue"), ("auroc", "AUROC", "tab:orange")):
        values = [entry["metrics"][key] for entry in entries]
        if any(v["value"] is None for v in values) or clean[key]["value"] is None:
            continue
        value, low, high = (np.array([v[part] for v in values], dtype=float) for part in ("value", "low", "high"))
        axes.plot(positions, value, "o-", color=colour, label=label)
        axes.fill_between(positions, low, high, color=colour, alpha=0.2)
        axes.axhline(clean[key]["value"], color=colour, linestyle="--", linewidth=1, label=f"{label}, clean")
        axes.axhspan(clean[key]["low"], clean[key]["high"], color=colour, alpha=0.07)
    axes.set_xticks(positions, [str(entry["param"]) for entry in entries])
    axes.set_ylim(-0.02, 1.02)
    axes.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
    axes.set_ylabel("metric (95% interval)")
    axes.set_xlabel(entries[0]["name"] if entries else "")
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=8, loc="lower left")
    return save_figure(figure, path)


def plot_reliability(references, log_odds_before, log_odds_after, path: str | os.PathLike, bins: int = 10) -> Path:
    """Reliability diagram: observed share of ai images against mean P(ai) per bin, before and after
    temperature scaling, with the diagonal a calibrated detector would follow."""
    from scipy.special import expit
    from sklearn.calibration import calibration_curve

    figure = Figure(figsize=(4.5, 4.5))
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    for scores, label in ((log_odds_before, "before"), (log_odds_after, "after temperature scaling")):
        observed, predicted = calibration_curve(references == AI, expit(np.asarray(scores, dtype=float)), n_bins=bins)
        axes.plot(predicted, observed, "o-", label=label)
    axes.set_xlabel("mean predicted P(ai)")
    axes.set_ylabel("observed share of ai images")
    axes.set_title("Reliability (test split)")
    axes.legend(fontsize=8)
    return save_figure(figure, path)
