"""The one results table: the DeepArt paper's three columns, then the ranking metrics, as markdown.

The console, the model card and every report print this same table.
"""

from __future__ import annotations

from ..cards import markdown_table
from ..constants import AI, HUMAN, ID2LABEL
from .detector_metric.detector_metric import FPR_BUDGETS, class_accuracy_key, tpr_key

RESULT_COLUMNS = [
    (class_accuracy_key(HUMAN), f"{ID2LABEL[HUMAN]} acc. %"),
    (class_accuracy_key(AI), f"{ID2LABEL[AI]} acc. %"),
    ("mean_accuracy", "mean %"),
    ("accuracy", "accuracy %"),
    ("auroc", "AUROC %"),
    ("average_precision", "AP %"),
    *((tpr_key(budget), f"TPR@{budget:.0%}FPR %") for budget in FPR_BUDGETS),
]


def percent(value) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}"


def results_markdown(metrics: dict) -> str:
    """One row of percentages ("n/a" where a metric is undefined), under the column names."""
    return markdown_table(
        [header for _, header in RESULT_COLUMNS], [[percent(metrics.get(key)) for key, _ in RESULT_COLUMNS]]
    )


def counts_line(metrics: dict) -> str:
    return f"n = {metrics.get('n')} ({metrics.get('n_human')} {ID2LABEL[HUMAN]}, {metrics.get('n_ai')} {ID2LABEL[AI]})"


def percent_interval(entry: dict | None) -> str:
    """``{"value", "low", "high"}`` (from ``intervals.metric_intervals``) as "93.75 [85.00, 97.30]"."""
    if not entry or entry.get("value") is None:
        return "n/a"
    return f"{percent(entry['value'])} [{percent(entry['low'])}, {percent(entry['high'])}]"


def interval_cell(metric: dict | None) -> str:
    """``{"value", "low", "high"}`` as "93.8 [85.0, 97.3]" (percentages to one decimal), the reports' short form."""
    if not metric or metric.get("value") is None:
        return "n/a"
    return f"{metric['value'] * 100:.1f} [{metric['low'] * 100:.1f}, {metric['high'] * 100:.1f}]"


def comparison_markdown(results: dict[str, dict], name_header: str = "model") -> str:
    """One row per named result of ``metric_intervals``: the results table's columns, each with its 95% interval."""
    rows = [
        [name, *(percent_interval(metrics.get(key)) for key, _ in RESULT_COLUMNS)] for name, metrics in results.items()
    ]
    return markdown_table([name_header, *(header for _, header in RESULT_COLUMNS)], rows)
