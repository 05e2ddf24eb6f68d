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
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    confusion_matrix,
    roc_auc_score,
    roc_curve,
)

from deepart_hf.constants import AI, HUMAN, LABELS

# The benchmark whose table this metric reproduces (the same entry as the DeepArt dataset card).
_CITATION = """\
@article{wang2023deepart,
  title   = {DeepArt: A Benchmark to Advance Fidelity Research in AI-Generated Content},
  author  = {Wang, Wentao and Huang, Xuanyao and Wang, Tianyang and Roy, Swalpa Kumar},
  journal = {arXiv preprint arXiv:2312.10407},
  year    = {2023},
  note    = {Dataset: https://github.com/rickwang28574/DeepArt}
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
    scores (`list` of `float`): probability of "ai", or better its log-odds (any finite score where higher
        means "more likely ai" works for the ranking metrics; log-odds keep confident scores apart). float64.
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
    return confusion_matrix(references, predictions, labels=list(range(len(LABELS))))


def roc_curve_points(references, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) of the rule "ai if score >= threshold", one point per distinct score.

    scikit-learn's ``roc_curve`` with every point kept: the first is threshold = +inf (nothing called ai,
    FPR = TPR = 0); tied scores move together, which is what makes a tie count half in the AUROC.
    Requires both classes in `references`.
    """
    references = np.asarray(references, dtype=np.int64)
    if not (np.any(references == AI) and np.any(references == HUMAN)):
        raise ValueError("the ROC curve needs both human and ai references")
    return roc_curve(references, np.asarray(scores, dtype=np.float64), pos_label=AI, drop_intermediate=False)


def tpr_at_fpr(fpr: np.ndarray, tpr: np.ndarray, fpr_budget: float) -> float:
    """Highest TPR among the ROC points with FPR <= budget (the +inf point guarantees one exists).

    scikit-learn has no such function: this is the one metric computed here rather than by it.
    """
    within_budget = fpr <= fpr_budget + 1e-12  # 1/100 computed as a ratio must still count as 1%
    return float(np.max(tpr[within_budget]))


def detection_metrics(predictions, references, scores) -> dict:
    """All DetectorMetric numbers from plain arrays; see _KWARGS_DESCRIPTION for the keys.

    The arithmetic is scikit-learn's, on float64 scores, so a confident detector's scores are ranked as they are
    rather than collapsed into ties.
    """
    predictions, references, scores = _validated_arrays(predictions, references, scores)
    if len(references) == 0:
        counts = np.zeros((len(LABELS), len(LABELS)), dtype=np.int64)
    else:
        counts = confusion_matrix_counts(references, predictions)
    per_class_total = counts.sum(axis=1)
    n_human, n_ai = int(per_class_total[HUMAN]), int(per_class_total[AI])
    n = n_human + n_ai
    both_classes = n_human > 0 and n_ai > 0

    results: dict = {"accuracy": float(accuracy_score(references, predictions)) if n else None}
    for label_id in (HUMAN, AI):
        total = per_class_total[label_id]
        results[class_accuracy_key(label_id)] = float(counts[label_id, label_id] / total) if total else None
    results["mean_accuracy"] = float(balanced_accuracy_score(references, predictions)) if both_classes else None

    if both_classes:
        results["auroc"] = float(roc_auc_score(references, scores))
        results["average_precision"] = float(average_precision_score(references, scores, pos_label=AI))
        fpr, tpr, _ = roc_curve_points(references, scores)
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
                    # float64: confident detectors give probabilities within 1e-8 of 0 or 1, which float32 would tie
                    "scores": datasets.Value("float64"),
                }
            ),
            # No format="numpy": datasets' numpy formatter hands float columns over as float32, which would tie
            # the very scores the float64 feature keeps apart. Python lists keep every bit.
            reference_urls=["https://scikit-learn.org/stable/modules/model_evaluation.html"],
        )

    def _compute(self, predictions, references, scores) -> dict:
        return detection_metrics(predictions, references, scores)
