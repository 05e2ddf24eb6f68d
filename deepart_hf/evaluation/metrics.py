"""From model outputs to numbers: probabilities of "ai", and the Trainer's ``compute_metrics``.

The numbers themselves come from the ``detector_metric`` evaluate module; this module feeds it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..models.scores import log_odds_from_logits, predictions_from_logits

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
