"""Model outputs -> scores -> the Trainer's metrics: log-odds in float64, headline numbers logged."""

import numpy as np
import pytest
from sklearn import metrics as skm

from deepart_hf.constants import AI, HUMAN
from deepart_hf.evaluation import metrics as dm
from deepart_hf.models import scores


def test_probabilities_from_logits_is_a_stable_softmax():
    logits = np.array([[0.0, 0.0], [1000.0, -1000.0], [-1000.0, 1000.0], [1.0, 3.0]])
    probabilities = scores.probabilities_from_logits(logits)
    assert np.all(np.isfinite(probabilities))
    assert probabilities == pytest.approx([0.5, 0.0, 1.0, 1 / (1 + np.exp(-2.0))])
    assert scores.predictions_from_logits(logits).tolist() == [HUMAN, HUMAN, AI, AI]
    with pytest.raises(ValueError, match="shape"):
        scores.probabilities_from_logits(np.zeros((3, 3)))


def test_log_odds_are_the_logit_gap_in_float64():
    logits = np.array([[3.0, 43.0], [2.0, 52.0], [0.5, -0.25]], dtype=np.float32)  # as the Trainer hands them over
    log_odds = scores.log_odds_from_logits(logits)
    assert log_odds.dtype == np.float64 and log_odds.tolist() == [40.0, 50.0, -0.75]
    # Both probabilities round to 1.0: only the log-odds still rank the second image above the first.
    assert scores.probabilities_from_logits(logits)[0] == scores.probabilities_from_logits(logits)[1] == 1.0


def test_compute_metrics_for_trainer():
    from transformers import EvalPrediction

    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 64)
    logits = rng.normal(size=(64, 2)) + np.eye(2)[labels]
    compute_metrics = dm.make_compute_metrics()

    flat = compute_metrics(EvalPrediction(predictions=logits, label_ids=labels))
    margins = logits[:, AI] - logits[:, HUMAN]
    # The Trainer logs the headline numbers only; everything else is in the run's files.
    assert list(flat) == list(dm.HEADLINE_METRICS)
    assert flat["mean_accuracy"] == pytest.approx(skm.balanced_accuracy_score(labels, logits.argmax(1)), abs=1e-12)
    assert flat["auroc"] == pytest.approx(skm.roc_auc_score(labels, margins), abs=1e-12)

    # A tuple of outputs (logits first) works too; a single-class set drops the undefined metrics.
    only_human = compute_metrics(EvalPrediction(predictions=(logits[:4], None), label_ids=np.zeros(4, int)))
    assert "auroc" not in only_human and "ai_accuracy" not in only_human
    assert "human_accuracy" in only_human


def test_compute_metrics_ranks_an_overconfident_detector_exactly():
    from transformers import EvalPrediction

    rng = np.random.default_rng(8)
    labels = np.array([HUMAN] * 200 + [AI] * 200)
    gaps = rng.uniform(15, 40, size=400)
    gaps[:6] *= -1  # six human images confidently called ai
    logits = np.zeros((400, 2), dtype=np.float32)
    logits[:, HUMAN] = np.where(labels == HUMAN, gaps, -gaps) / 2
    logits[:, AI] = -logits[:, HUMAN]
    flat = dm.make_compute_metrics()(EvalPrediction(predictions=logits, label_ids=labels))
    margins = logits[:, AI].astype(np.float64) - logits[:, HUMAN]
    assert flat["auroc"] == pytest.approx(skm.roc_auc_score(labels, margins), abs=1e-9)
    assert flat["auroc"] != pytest.approx(
        skm.roc_auc_score(labels, scores.probabilities_from_logits(logits).astype(np.float32)), abs=1e-4
    )
