"""From model outputs to numbers: probabilities of "ai", and the Trainer's ``compute_metrics``.

The numbers themselves come from the ``detector_metric`` evaluate module; this module feeds it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.special import expit

from ..constants import AI, HUMAN, LABELS

logger = logging.getLogger(__name__)

DETECTOR_METRIC_DIR = Path(__file__).resolve().parent / "detector_metric"

# What the Trainer logs after each evaluation: the headline numbers. Everything else goes to the run's files.
HEADLINE_METRICS = ("accuracy", "human_accuracy", "ai_accuracy", "mean_accuracy", "auroc")


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


def log_odds_from_logits(logits: np.ndarray) -> np.ndarray:
    """log(P(ai) / P(human)) for each row of (N, 2) logits, in float64: the score every metric ranks by.

    A probability saturates: a logit gap of 40 gives P(ai) = 1 - 4e-18, which no float tells apart from a gap
    of 50. The log-odds are the gap itself, so confident predictions keep their order.
    """
    logits = _logits_array(logits)
    return logits[:, AI] - logits[:, HUMAN]


def probabilities_from_log_odds(log_odds: np.ndarray) -> np.ndarray:
    """P(ai) = sigmoid(log-odds), without overflow."""
    return expit(np.asarray(log_odds, dtype=np.float64))


def probabilities_from_logits(logits: np.ndarray) -> np.ndarray:
    """Probability of "ai" for each row of (N, 2) logits (a softmax, computed as the sigmoid of the log-odds)."""
    return probabilities_from_log_odds(log_odds_from_logits(logits))


def decisions_at(log_odds, threshold_log_odds: float = 0.0) -> np.ndarray:
    """Class id per image for the rule "ai if log-odds >= threshold" (0 is the argmax, ties going to ai)."""
    return np.where(np.asarray(log_odds, dtype=np.float64) >= threshold_log_odds, AI, HUMAN).astype(np.int64)


def predictions_from_logits(logits: np.ndarray) -> np.ndarray:
    """Predicted class id per row; equal logits go to the lower id (human), as in ``torch.argmax``."""
    return _logits_array(logits).argmax(axis=1)


def make_compute_metrics(metric=None) -> Callable:
    """A ``compute_metrics`` function for ``transformers.Trainer``.

    It takes an ``EvalPrediction`` (logits (N, 2), label ids (N,)) and returns the headline numbers, which the
    Trainer logs with an ``eval_`` prefix. Metrics that are undefined for the evaluated set (a single class) are
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
            scores=log_odds_from_logits(logits),
        )
        return {key: results[key] for key in HEADLINE_METRICS if results.get(key) is not None}

    return compute_metrics
