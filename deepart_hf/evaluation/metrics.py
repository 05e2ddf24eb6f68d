"""From model outputs to numbers: probabilities of "ai", and the Trainer's ``compute_metrics``.

The numbers themselves come from the ``detector_metric`` evaluate module; this module feeds it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..constants import AI, ID2LABEL, LABELS

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
