"""Confidence intervals for the detector metric: every number with the range it could plausibly take and the
counts it rests on, so that a 28-image test set does not look as certain as a 2,000-image one.

Decisions:

* Stratified bootstrap: each resample draws the human and the ai images separately, with replacement, keeping
  both counts. Every metric then stays defined in every resample (AUROC needs both classes), and the interval
  reflects the uncertainty of the scores, not of the class mix, which the test split fixes by design.
* A bootstrap cannot see beyond its sample: a detector that gets 14 of 14 right resamples to 100% every time
  and the percentile interval collapses to [1, 1]. Where a metric is a proportion (accuracy, per-class
  accuracy, TPR at a fixed FPR) its interval is therefore widened to at least the Wilson score interval for
  those counts; the ranking metrics (AUROC, AP) and the mean accuracy are widened to at least the Wilson
  interval of their value with the smaller class's count, a conservative reading (the pairs an AUROC
  averages over are not independent). So 100% on 14 images per class reports about [78%, 100%].
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest

from ..constants import AI, HUMAN, N_RESAMPLES
from ..models.scores import decisions_at
from .detector_metric.detector_metric import FPR_BUDGETS, detection_metrics, tpr_key

CONFIDENCE = 0.95
INTERVAL_METRICS = (
    "accuracy",
    "human_accuracy",
    "ai_accuracy",
    "mean_accuracy",
    "auroc",
    "average_precision",
    *(tpr_key(budget) for budget in FPR_BUDGETS),
)


def wilson_interval(successes: int, total: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a proportion (scipy's), which stays wide at 0/n and n/n."""
    if total <= 0:
        return (float("nan"), float("nan"))
    interval = binomtest(int(round(successes)), int(total)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


def _counts_behind(metric: str, results: dict) -> int:
    """How many independent images a metric's value rests on (for its Wilson floor)."""
    if metric == "accuracy":
        return results["n"]
    if metric == "human_accuracy":
        return results["n_human"]
    if metric in ("ai_accuracy", *(tpr_key(budget) for budget in FPR_BUDGETS)):
        return results["n_ai"]
    return min(results["n_human"], results["n_ai"])


def _resampled_metrics(references: np.ndarray, predictions: np.ndarray, scores: np.ndarray) -> dict:
    """The metrics of ``detection_metrics`` for one resample that holds both classes, in plain numpy: the
    bootstrap calls this a thousand times, where scikit-learn's input checks would cost more than the arithmetic.
    ``tests/evaluation/test_intervals.py`` checks it against ``detection_metrics`` on tied and untied scores."""
    is_ai = references == AI
    n_ai = int(is_ai.sum())
    n_human = len(references) - n_ai
    correct = predictions == references
    human_accuracy, ai_accuracy = correct[~is_ai].mean(), correct[is_ai].mean()
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores, sorted_ai = scores[order], is_ai[order]
    # one ROC point per distinct score: the last index of each run of equal scores
    last_of_run = np.flatnonzero(np.r_[sorted_scores[1:] != sorted_scores[:-1], True])
    tp = np.cumsum(sorted_ai)[last_of_run]
    fp = (last_of_run + 1) - tp
    tpr, fpr = np.r_[0, tp / n_ai], np.r_[0, fp / n_human]
    precision = tp / (last_of_run + 1)
    results = {
        "accuracy": float(correct.mean()),
        "human_accuracy": float(human_accuracy),
        "ai_accuracy": float(ai_accuracy),
        "mean_accuracy": float((human_accuracy + ai_accuracy) / 2),
        "auroc": float(np.trapezoid(tpr, fpr)),
        "average_precision": float(np.sum(np.diff(tpr) * precision)),
    }
    for budget in FPR_BUDGETS:
        results[tpr_key(budget)] = float(np.max(tpr[fpr <= budget + 1e-12]))
    return results


def metric_intervals(
    references,
    log_odds,
    *,
    threshold_log_odds: float = 0.0,
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> dict:
    """Every detector metric for "ai if log_odds >= threshold", each as ``{"value", "low", "high"}``, plus the
    counts (``n``, ``n_human``, ``n_ai``), the confusion matrix and how the intervals were computed.

    ``value`` is the metric on the full set, exactly as ``detection_metrics`` gives it; a metric undefined for
    the set (one class absent) has value, low and high None.
    """
    references = np.asarray(references, dtype=np.int64).reshape(-1)
    log_odds = np.asarray(log_odds, dtype=np.float64).reshape(-1)
    predictions = decisions_at(log_odds, threshold_log_odds)
    point = detection_metrics(predictions, references, log_odds)
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(references == label) for label in (HUMAN, AI)]
    samples = {metric: [] for metric in INTERVAL_METRICS}
    both_classes = all(len(indices) for indices in by_class)
    if point["n"] and n_resamples > 0:
        for _ in range(n_resamples):
            rows = np.concatenate([rng.choice(indices, size=len(indices)) for indices in by_class if len(indices)])
            if both_classes:
                resampled = _resampled_metrics(references[rows], predictions[rows], log_odds[rows])
            else:
                resampled = detection_metrics(predictions[rows], references[rows], log_odds[rows])
            for metric in INTERVAL_METRICS:
                if resampled[metric] is not None:
                    samples[metric].append(resampled[metric])
    tail = (1 - confidence) / 2 * 100
    results: dict = {}
    for metric in INTERVAL_METRICS:
        value = point[metric]
        if value is None:
            results[metric] = {"value": None, "low": None, "high": None}
            continue
        low, high = np.percentile(samples[metric], [tail, 100 - tail]) if samples[metric] else (value, value)
        count = _counts_behind(metric, point)
        wilson_low, wilson_high = wilson_interval(value * count, count, confidence)
        results[metric] = {"value": value, "low": float(min(low, wilson_low)), "high": float(max(high, wilson_high))}
    results["confusion_matrix"] = point["confusion_matrix"]
    results["n"], results["n_human"], results["n_ai"] = point["n"], point["n_human"], point["n_ai"]
    results["interval"] = {
        "confidence": confidence,
        "method": f"stratified bootstrap ({n_resamples} resamples, percentile), widened to at least the Wilson interval",
        "threshold_log_odds": threshold_log_odds,
    }
    return results


def interval_width_warning(results: dict, wide: float = 0.2) -> str | None:
    """A sentence for the summary when the test set is too small for its numbers to be read as precise."""
    accuracy = results.get("mean_accuracy") or results.get("accuracy")
    if not accuracy or accuracy["value"] is None:
        return None
    width = accuracy["high"] - accuracy["low"]
    if width < wide:
        return None
    return (
        f"Only {results['n']} images ({results['n_human']} human, {results['n_ai']} ai): the 95% interval of "
        f"the mean accuracy spans {width * 100:.0f} points, so these figures are indicative, not precise."
    )
