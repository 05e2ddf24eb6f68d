"""Intervals: small sets must not look certain, large sets get narrow intervals, values are the metric's own."""

import numpy as np
import pytest

from deepart_hf.evaluation.detector_metric.detector_metric import detection_metrics
from deepart_hf.evaluation.intervals import interval_width_warning, metric_intervals, wilson_interval


def test_a_perfect_score_on_28_images_gets_a_wide_interval_and_a_warning():
    labels = np.array([0] * 14 + [1] * 14)
    scores = np.where(labels == 1, 3.0, -3.0)
    results = metric_intervals(labels, scores, n_resamples=200)
    assert results["mean_accuracy"]["value"] == 1.0
    assert results["mean_accuracy"]["high"] == 1.0
    assert results["mean_accuracy"]["low"] == pytest.approx(wilson_interval(14, 14)[0])
    assert results["mean_accuracy"]["low"] < 0.8
    assert "28 images" in interval_width_warning(results)


def test_values_are_the_detector_metric_and_intervals_shrink_with_more_images():
    rng = np.random.default_rng(0)
    widths = []
    for n in (40, 2000):
        labels = np.repeat([0, 1], n // 2)
        scores = rng.normal(labels * 1.5, 1.0)
        results = metric_intervals(labels, scores, threshold_log_odds=0.3, n_resamples=200)
        point = detection_metrics((scores >= 0.3).astype(int), labels, scores)
        for key in ("accuracy", "auroc", "average_precision", "tpr_at_5_fpr"):
            assert results[key]["value"] == point[key]
            assert results[key]["low"] <= point[key] <= results[key]["high"]
        widths.append(results["auroc"]["high"] - results["auroc"]["low"])
    assert widths[1] < widths[0] / 3
    assert interval_width_warning(results) is None


def test_undefined_metrics_stay_none():
    results = metric_intervals(np.ones(5, dtype=int), np.linspace(-1, 1, 5), n_resamples=20)
    assert results["auroc"] == {"value": None, "low": None, "high": None}
    assert results["ai_accuracy"]["value"] == pytest.approx(0.6)


@pytest.mark.parametrize("seed", range(5))
def test_the_bootstrap_s_numpy_metrics_equal_the_detector_metric(seed):
    from deepart_hf.evaluation.intervals import _resampled_metrics

    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat([0, 1], [37, 23]))
    scores = np.round(rng.normal(labels * 1.2, 1.0), 1 if seed % 2 else 6)  # odd seeds: many ties
    predictions = (scores >= 0.4).astype(int)
    expected = detection_metrics(predictions, labels, scores)
    for key, value in _resampled_metrics(labels, predictions, scores).items():
        assert value == pytest.approx(expected[key], abs=1e-12), key
