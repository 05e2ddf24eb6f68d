"""Generator attribution: K-class metrics, and the human-vs-AI metrics an attribution model implies.

Decisions:

* Per-class accuracy (recall of each true class), macro-F1 (every generator counts alike, however many images it
  has) and the K x K confusion matrix, computed with scikit-learn.
* An attribution model is also a detector: P(ai) = 1 - P(real), i.e. the softmax mass of every generator. Its
  log-odds, ``logsumexp(generator logits) - real logit``, are computed from the logits in float64 (as
  ``models.scores.log_odds_from_logits`` does for two classes), and the detector metric scores them like any
  detector's: its human/ai decision is P(ai) > 1/2, which is not always "the arg-max is a generator".
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score

from ..constants import REAL_GENERATOR
from ..models.scores import attribution_log_odds_ai


def attribution_metrics(logits, references, names, detector_metric=None) -> dict:
    """Accuracy, macro-F1, per-class accuracy, confusion matrix; with ``real`` among ``names``, also the
    detector metric's human-vs-AI figures under ``detection`` (``detector_metric``: a loaded evaluate module)."""
    logits = np.asarray(logits, dtype=np.float64)
    references = np.asarray(references, dtype=np.int64)
    names = list(names)
    classes = list(range(len(names)))
    predictions = logits.argmax(axis=1)
    matrix = confusion_matrix(references, predictions, labels=classes)
    totals = matrix.sum(axis=1)
    results = {
        "accuracy": float((predictions == references).mean()),
        "macro_f1": float(
            f1_score(
                references, predictions, labels=[c for c in classes if totals[c]], average="macro", zero_division=0
            )
        ),
        # None for a class with no test image: its accuracy is unknown, not 0
        "per_class_accuracy": {
            name: (float(matrix[c, c] / totals[c]) if totals[c] else None) for c, name in enumerate(names)
        },
        "confusion_matrix": matrix.tolist(),
        "classes": names,
        "n": int(len(references)),
    }
    if REAL_GENERATOR in names:
        from .metrics import load_detector_metric

        log_odds = attribution_log_odds_ai(logits, names)
        is_ai = (references != names.index(REAL_GENERATOR)).astype(np.int64)
        metric = detector_metric or load_detector_metric()
        results["detection"] = metric.compute(
            predictions=(log_odds > 0).astype(np.int64), references=is_ai, scores=log_odds
        )
    return results


# What the Trainer logs after each evaluation of an attribution model (with ``real``, also the detection AUROC).
ATTRIBUTION_HEADLINE_METRICS = ("accuracy", "macro_f1")


def make_attribution_compute_metrics(names, detector_metric=None):
    """A ``compute_metrics`` for ``transformers.Trainer`` with a K-class head whose classes are ``names``: the
    headline numbers, plus ``ai_auroc`` (P(ai) = 1 - P(real) ranking real against generated) when defined."""
    names = list(names)
    if REAL_GENERATOR in names and detector_metric is None:
        from .metrics import load_detector_metric

        detector_metric = load_detector_metric()

    def compute_metrics(eval_prediction) -> dict[str, float]:
        logits = eval_prediction.predictions
        if isinstance(logits, (tuple, list)):  # models that return extra outputs hand the Trainer a tuple
            logits = logits[0]
        if eval_prediction.label_ids is None:
            raise ValueError("compute_metrics needs label ids; the evaluation dataset has no labels")
        results = attribution_metrics(logits, np.asarray(eval_prediction.label_ids).reshape(-1), names, detector_metric)
        headline = {key: results[key] for key in ATTRIBUTION_HEADLINE_METRICS}
        auroc = (results.get("detection") or {}).get("auroc")
        return {**headline, **({"ai_auroc": auroc} if auroc is not None else {})}

    return compute_metrics
