"""Result tables for people: the console summary of a run."""

from __future__ import annotations

from ..constants import AI, HUMAN, ID2LABEL
from .detector_metric.detector_metric import FPR_BUDGETS, class_accuracy_key, tpr_key


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
