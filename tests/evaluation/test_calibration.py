"""Calibration: the temperature a fit recovers, the threshold a target FPR gives, and the head that carries them."""

import math

import numpy as np
import pytest
import torch

from deepart_hf.evaluation.calibration import (
    apply_temperature,
    expected_calibration_error,
    fit_calibration,
    fit_temperature,
    tempered_log_odds,
    threshold_for_fpr,
)
from deepart_hf.models import create_model
from deepart_hf.models.calibration import Calibration


def calibrated_logits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(N, 1, 2) logits whose log-odds are well calibrated, and labels drawn from them."""
    rng = np.random.default_rng(seed)
    log_odds = rng.normal(0.0, 2.0, n)
    labels = (rng.random(n) < 1 / (1 + np.exp(-log_odds))).astype(np.int64)
    logits = np.stack([np.zeros(n), log_odds], axis=1)[:, None, :]
    return logits, labels


def test_fit_temperature_recovers_an_overconfidence_factor():
    logits, labels = calibrated_logits(20_000)
    assert fit_temperature(logits * 3.0, labels) == pytest.approx(3.0, rel=0.05)
    assert fit_temperature(logits, labels) == pytest.approx(1.0, rel=0.05)


def test_tempered_log_odds_of_one_crop_is_the_margin_over_t_and_crops_average_probabilities():
    logits = np.array([[[0.0, 4.0]], [[1.0, -1.0]]])
    np.testing.assert_allclose(tempered_log_odds(logits, 2.0), [2.0, -1.0], atol=1e-12)
    # two crops with P(ai) 0.9 and 0.5 average to 0.7: log-odds log(0.7 / 0.3)
    crops = np.array([[[0.0, math.log(9)], [0.0, 0.0]]])
    np.testing.assert_allclose(tempered_log_odds(crops, 1.0), [math.log(0.7 / 0.3)], atol=1e-12)


def test_threshold_keeps_the_validation_fpr_within_the_target():
    human = np.arange(20, dtype=float)  # scores 0..19
    labels = np.array([0] * 20 + [1] * 5)
    scores = np.concatenate([human, [5.0, 18.5, 19.0, 25.0, 30.0]])
    threshold, _ = threshold_for_fpr(labels, scores, 0.05)
    # one human image in 20 may score at or above it: the lowest such threshold lies just above the second-highest (18)
    assert threshold == np.nextafter(18.0, np.inf)
    assert np.mean(scores[labels == 0] >= threshold) == pytest.approx(0.05)
    assert np.mean(scores[labels == 1] >= threshold) == pytest.approx(4 / 5)  # 18.5, 19, 25 and 30; not 5


def test_too_few_human_images_fall_back_to_argmax_and_say_so():
    logits, labels = calibrated_logits(30, seed=1)
    labels[:] = [0] * 10 + [1] * 20
    calibration = fit_calibration(logits, labels, target_fpr=0.05)
    assert calibration.threshold_log_odds == 0.0
    assert "fallback to the argmax" in calibration.method and "10 human validation images" in calibration.method
    assert calibration.is_calibrated and calibration.temperature > 0


def test_a_handful_of_validation_images_does_not_set_the_temperature():
    logits, labels = calibrated_logits(16, seed=3)
    labels[:] = [0] * 8 + [1] * 8
    calibration = fit_calibration(logits * 5, labels)
    assert calibration.temperature == 1.0 and "fewer than 10 validation images" in calibration.method


def test_one_class_is_not_calibrated():
    logits, _ = calibrated_logits(10)
    calibration = fit_calibration(logits, np.ones(10, dtype=int))
    assert not calibration.is_calibrated and calibration.temperature == 1.0


def test_ece_drops_after_temperature_scaling():
    logits, labels = calibrated_logits(5000, seed=2)
    overconfident = logits * 4.0
    calibration = fit_calibration(overconfident, labels, target_fpr=0.05)
    details = calibration.details
    assert details["validation_ece_after"] < details["validation_ece_before"] / 2
    assert details["validation_fpr_at_threshold"] <= 0.05
    assert expected_calibration_error(
        labels, tempered_log_odds(overconfident, calibration.temperature)
    ) == pytest.approx(details["validation_ece_after"])


def test_temperature_is_baked_into_the_head_and_stored_in_the_config():
    model, _ = create_model("resnet10t", from_scratch=True, image_size=32)
    model.eval()
    pixels = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        before = model(pixel_values=pixels).logits
        apply_temperature(model, 2.5)
        after = model(pixel_values=pixels).logits
    torch.testing.assert_close(after, before / 2.5, rtol=1e-5, atol=1e-6)
    Calibration(2.5, 0.7, 0.05, "temperature scaling").save_to(model.config)
    restored = Calibration.from_config(type(model.config).from_dict(model.config.to_dict()))
    assert (restored.temperature, restored.threshold_log_odds) == (2.5, 0.7)
    assert restored.threshold == pytest.approx(1 / (1 + math.exp(-0.7)))


def test_a_perfectly_separated_validation_split_keeps_the_model_s_temperature():
    """With no log-loss minimum the fit would run to its bound (T -> 0 here): that says the split is small and
    separable, not how confident the model should be."""
    logits = np.stack([np.zeros(40), np.r_[-np.linspace(1, 3, 20), np.linspace(1, 3, 20)]], axis=1)[:, None, :]
    labels = np.repeat([0, 1], 20)
    calibration = fit_calibration(logits, labels, target_fpr=0.05)
    assert calibration.temperature == 1.0 and calibration.details["fitted_temperature"] < 0.011
    assert calibration.method.startswith("temperature kept at 1")
