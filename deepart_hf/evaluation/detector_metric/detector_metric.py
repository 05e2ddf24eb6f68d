"""DetectorMetric: the numbers that say how well a detector separates human from AI-generated art.

An `evaluate` metric module: load it with ``evaluate.load("/path/to/deepart_hf/detector_metric")`` or
instantiate ``DetectorMetric()`` directly. evaluate copies this file into its modules cache before importing
it, so the file imports the package absolutely (never relatively) and keeps every computation in module-level
numpy functions that the rest of ``deepart_hf`` can import and reuse.
"""

from __future__ import annotations

import datasets
import evaluate
import numpy as np

from deepart_hf.constants import AI, HUMAN, LABELS

# The benchmark whose table this metric reproduces (the same entry as the DeepArt dataset card).
_CITATION = """\
@article{deepart,
  title  = {DeepArt: A Benchmark to Advance Fidelity Research in AI-Generated Content},
  author = {Roy, Swalpa Kumar and others},
  note   = {Dataset: https://github.com/rickwang28574/DeepArt}
}
"""

_DESCRIPTION = """\
Binary detection metrics for telling human-made art (label 0, "human") from AI-generated art
(label 1, "ai", the positive class).

Threshold metrics use the hard `predictions`:
- accuracy: fraction of all images classified correctly.
- human_accuracy / ai_accuracy: recall on each class (fraction of that class's images classified
  correctly), the DeepArt paper's per-class columns.
- mean_accuracy: the mean of human_accuracy and ai_accuracy, the paper's "Average" column (balanced accuracy).
- confusion_matrix: 2x2 counts, rows = true class, columns = predicted class, both in the order human, ai.

Ranking metrics use `scores`, the probability of "ai", and need both classes present:
- auroc: area under the ROC curve (trapezoidal rule; tied scores form one operating point, so a tie counts half).
- average_precision: sum over distinct score thresholds of (R_n - R_{n-1}) * P_n, no interpolation
  (the definition scikit-learn uses).
- tpr_at_1_fpr / tpr_at_5_fpr: the highest true-positive rate among the ROC operating points
  "ai if score >= t" (t running over the distinct scores, plus "nothing is ai") whose false-positive rate is
  at most 1% / 5%. Equivalently the TPR at the lowest threshold that still keeps FPR within the budget. No
  interpolation between operating points, so with few human images the budget may allow only FPR = 0.

Any metric that needs a class which is absent from the references is None (never NaN), so the result
is always valid JSON.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `int`): predicted class ids, 0 = human, 1 = ai.
    references (`list` of `int`): true class ids, 0 = human, 1 = ai.
    scores (`list` of `float`): probability of "ai" (any finite score where higher means "more likely ai"
        works for the ranking metrics). Stored as float32 by evaluate.
Returns:
    accuracy (`float` or `None`): fraction correct, None when there are no examples.
    human_accuracy (`float` or `None`): recall on human images, None when there are none.
    ai_accuracy (`float` or `None`): recall on ai images, None when there are none.
    mean_accuracy (`float` or `None`): mean of the two per-class accuracies, None unless both classes are present.
    auroc (`float` or `None`): area under the ROC curve, None unless both classes are present.
    average_precision (`float` or `None`): average precision for "ai", None unless both classes are present.
    tpr_at_1_fpr (`float` or `None`): best TPR with FPR <= 1%, None unless both classes are present.
    tpr_at_5_fpr (`float` or `None`): best TPR with FPR <= 5%, None unless both classes are present.
    confusion_matrix (`list` of `list` of `int`): rows = true, columns = predicted, order human, ai.
    n, n_human, n_ai (`int`): number of examples, of human ones and of ai ones.
Examples:
    >>> metric = DetectorMetric()
    >>> results = metric.compute(predictions=[0, 1, 1, 0], references=[0, 1, 0, 0], scores=[0.1, 0.9, 0.6, 0.2])
    >>> results["human_accuracy"], results["ai_accuracy"], results["mean_accuracy"]
    (0.6666666666666666, 1.0, 0.8333333333333333)
    >>> results["confusion_matrix"]
    [[2, 1], [0, 1]]
"""

# The operating points reported as TPR@FPR; the key names are derived from them so they cannot drift.
FPR_BUDGETS = (0.01, 0.05)


def tpr_key(fpr_budget: float) -> str:
    """Metric key for the TPR at a false-positive budget, e.g. 0.01 -> "tpr_at_1_fpr"."""
    return f"tpr_at_{round(fpr_budget * 100):g}_fpr"


def class_accuracy_key(label_id: int) -> str:
    return f"{LABELS[label_id]}_accuracy"


def _validated_arrays(predictions, references, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    predictions = np.asarray(predictions).reshape(-1)
    references = np.asarray(references).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if not len(predictions) == len(references) == len(scores):
        raise ValueError(
            f"predictions, references and scores must have the same length, "
            f"got {len(predictions)}, {len(references)} and {len(scores)}"
        )
    valid_ids = np.arange(len(LABELS))
    for name, ids in (("predictions", predictions), ("references", references)):
        if not np.isin(ids, valid_ids).all():
            bad = sorted(set(np.asarray(ids)[~np.isin(ids, valid_ids)].tolist()))[:5]
            raise ValueError(f"{name} must be class ids in {valid_ids.tolist()} ({LABELS}), got {bad}")
    if not np.isfinite(scores).all():
        raise ValueError("scores must be finite; NaN or infinite scores cannot be ranked")
    return predictions.astype(np.int64), references.astype(np.int64), scores


def confusion_matrix_counts(references, predictions) -> np.ndarray:
    """2x2 counts, rows = true class, columns = predicted class, indexed by label id."""
    references = np.asarray(references, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    n_classes = len(LABELS)
    flat = np.bincount(references * n_classes + predictions, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)


def roc_curve_points(references, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) of the rule "ai if score >= threshold", one point per distinct score.

    The first point is threshold = +inf (nothing called ai: FPR = TPR = 0); thresholds then decrease, so
    FPR and TPR never decrease. Tied scores move together, which is what makes a tie count half in the AUROC.
    Requires both classes in `references`.
    """
    references = np.asarray(references, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    n_ai = int(np.sum(references == AI))
    n_human = int(np.sum(references == HUMAN))
    if n_ai == 0 or n_human == 0:
        raise ValueError("the ROC curve needs both human and ai references")
    sorted_scores, last_of_tie, true_positives = _true_positives_at_each_threshold(references, scores)
    false_positives = (last_of_tie + 1) - true_positives
    tpr = np.r_[0.0, true_positives / n_ai]
    fpr = np.r_[0.0, false_positives / n_human]
    thresholds = np.r_[np.inf, sorted_scores[last_of_tie]]
    return fpr, tpr, thresholds


def _true_positives_at_each_threshold(references: np.ndarray, scores: np.ndarray):
    """(scores sorted high to low, index where each run of equal scores ends, ai images at or above it)."""
    # Stable sort keeps the result independent of input order for equal scores.
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    # The last index of each run of equal scores: there the threshold has admitted the whole tie.
    last_of_tie = np.flatnonzero(np.r_[sorted_scores[1:] != sorted_scores[:-1], True])
    return sorted_scores, last_of_tie, np.cumsum(references[order] == AI)[last_of_tie]


def tpr_at_fpr(fpr: np.ndarray, tpr: np.ndarray, fpr_budget: float) -> float:
    """Highest TPR among the ROC points with FPR <= budget (the +inf point guarantees one exists)."""
    within_budget = fpr <= fpr_budget + 1e-12  # 1/100 computed as a ratio must still count as 1%
    return float(np.max(tpr[within_budget]))


def area_under_roc(fpr: np.ndarray, tpr: np.ndarray) -> float:
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def average_precision(references, scores) -> float:
    """Sum over distinct thresholds of (recall gain) * precision, the step-wise (non-interpolated) AP."""
    references = np.asarray(references, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    n_ai = int(np.sum(references == AI))
    if n_ai == 0:
        raise ValueError("average precision needs at least one ai reference")
    _, last_of_tie, true_positives = _true_positives_at_each_threshold(references, scores)
    precision = true_positives / (last_of_tie + 1)
    recall = true_positives / n_ai
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def detection_metrics(predictions, references, scores) -> dict:
    """All DetectorMetric numbers from plain arrays; see _KWARGS_DESCRIPTION for the keys."""
    predictions, references, scores = _validated_arrays(predictions, references, scores)
    counts = confusion_matrix_counts(references, predictions)
    per_class_total = counts.sum(axis=1)
    n_human, n_ai = int(per_class_total[HUMAN]), int(per_class_total[AI])
    n = n_human + n_ai

    per_class_accuracy = {
        label_id: (float(counts[label_id, label_id] / per_class_total[label_id]) if per_class_total[label_id] else None)
        for label_id in range(len(LABELS))
    }
    both_classes = n_human > 0 and n_ai > 0

    results: dict = {"accuracy": float(np.trace(counts) / n) if n else None}
    for label_id in (HUMAN, AI):
        results[class_accuracy_key(label_id)] = per_class_accuracy[label_id]
    results["mean_accuracy"] = float(np.mean(list(per_class_accuracy.values()))) if both_classes else None

    if both_classes:
        fpr, tpr, _ = roc_curve_points(references, scores)
        results["auroc"] = area_under_roc(fpr, tpr)
        results["average_precision"] = average_precision(references, scores)
        for budget in FPR_BUDGETS:
            results[tpr_key(budget)] = tpr_at_fpr(fpr, tpr, budget)
    else:
        results["auroc"] = results["average_precision"] = None
        for budget in FPR_BUDGETS:
            results[tpr_key(budget)] = None

    results["confusion_matrix"] = counts.tolist()
    results["n"], results["n_human"], results["n_ai"] = n, n_human, n_ai
    return results


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class DetectorMetric(evaluate.Metric):
    """Accuracy per class, their mean, AUROC, AP and TPR at low FPR for human-vs-AI art detection."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            module_type="metric",
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Value("int32"),
                    "references": datasets.Value("int32"),
                    "scores": datasets.Value("float32"),
                }
            ),
            # numpy format hands _compute arrays instead of Python lists: no per-element conversion.
            format="numpy",
            reference_urls=["https://scikit-learn.org/stable/modules/model_evaluation.html"],
        )

    def _compute(self, predictions, references, scores) -> dict:
        return detection_metrics(predictions, references, scores)
