"""Calibration: the temperature a fit recovers, the threshold a target FPR gives, and the head that carries them."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from deepart_hf.evaluation.calibration import (
    apply_temperature,
    conformal_allowed,
    expected_calibration_error,
    expected_fpr,
    fit_calibration,
    fit_temperature,
    minimum_human_images,
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


def test_the_threshold_lies_above_the_conformal_order_statistic():
    human = np.arange(20, dtype=float)  # scores 0..19
    labels = np.array([0] * 20 + [1] * 5)
    scores = np.concatenate([human, [5.0, 18.5, 19.0, 25.0, 30.0]])
    threshold, how = threshold_for_fpr(labels, scores, 0.05)
    # ceil(21 * 0.95) = 20: just above the 20th smallest human score, the highest; none of the 20 may reach it
    assert threshold == np.nextafter(19.0, np.inf)
    assert np.mean(scores[labels == 0] >= threshold) == 0.0
    assert np.mean(scores[labels == 1] >= threshold) == pytest.approx(2 / 5)  # 25 and 30
    assert "0 of 20 human validation images" in how and "expected FPR on new human images" in how
    assert "4.8%" in how  # (k + 1)/(n + 1) = 1/21
    # 39 images at 5%: ceil(40 * 0.95) = 38, so one of the 39 may lie at or above the threshold
    threshold, _ = threshold_for_fpr(np.zeros(39, dtype=int), np.arange(39.0), 0.05)
    assert threshold == np.nextafter(37.0, np.inf)


def test_the_conformal_rule_in_numbers():
    assert [conformal_allowed(n, 0.05) for n in (18, 19, 20, 39, 40, 200)] == [-1, 0, 0, 1, 1, 9]
    assert (minimum_human_images(0.05), minimum_human_images(0.01), minimum_human_images(0.15)) == (19, 99, 6)
    # seven human images at 0.15: k = floor(8 * 0.15) - 1 = 0, all seven below the threshold
    assert conformal_allowed(7, 0.15) == 0 and conformal_allowed(minimum_human_images(0.3) - 1, 0.3) == -1
    mean, upper = expected_fpr(19, 0.05)  # Beta(1, 19)
    assert mean == pytest.approx(1 / 20) and upper == pytest.approx(1 - 0.05 ** (1 / 19))
    mean, upper = expected_fpr(1000, 0.05)  # k = 49: Beta(50, 951)
    assert mean == pytest.approx(50 / 1001) and 0.06 < upper < 0.065


def floor_rule_threshold(scores: np.ndarray, target: float) -> float:
    """The rule calibration used before: floor(target * n) of the n scores at or above the threshold."""
    allowed = int(math.floor(target * len(scores) + 1e-9))
    return float(np.nextafter(np.sort(scores)[::-1][allowed], np.inf))


@pytest.mark.parametrize("n", [20, 50, 200])
def test_on_new_images_the_conformal_rule_keeps_the_target_where_the_floor_rule_did_not(n):
    """Human scores are standard normal; a threshold is fitted on n of them for 5%, 20,000 times (fixed seed), and
    its FPR on new human images is the normal tail above it. The conformal rule's mean FPR is at or below 5%
    (it is (k + 1)/(n + 1), as promised) and exceeds its 95% upper bound in 5% of the draws; the floor rule's mean
    FPR lies above 5% (9.5% at n = 20)."""
    target, draws = 0.05, 20_000
    rng = np.random.default_rng(n)
    fprs = {"conformal": np.empty(draws), "floor": np.empty(draws)}
    for draw in range(draws):
        scores = rng.standard_normal(n)
        fprs["conformal"][draw] = norm.sf(threshold_for_fpr(np.zeros(n, dtype=int), scores, target)[0])
        fprs["floor"][draw] = norm.sf(floor_rule_threshold(scores, target))
    error = {rule: 3 * values.std() / math.sqrt(draws) for rule, values in fprs.items()}  # 3 Monte-Carlo s.e.
    mean, upper = expected_fpr(n, target)
    assert fprs["conformal"].mean() <= target + error["conformal"]
    assert fprs["conformal"].mean() == pytest.approx(mean, abs=error["conformal"])
    assert np.mean(fprs["conformal"] > upper) == pytest.approx(0.05, abs=3 * math.sqrt(0.05 * 0.95 / draws))
    floor_k = math.floor(target * n)
    assert fprs["floor"].mean() > target + error["floor"]
    assert fprs["floor"].mean() == pytest.approx((floor_k + 1) / (n + 1), abs=error["floor"])


def test_too_few_human_images_fall_back_to_argmax_and_say_so():
    logits, labels = calibrated_logits(30, seed=1)
    labels[:] = [0] * 10 + [1] * 20
    calibration = fit_calibration(logits, labels, target_fpr=0.05)
    assert calibration.threshold_log_odds == 0.0
    assert "fallback to the argmax" in calibration.method
    # the smallest target 10 images can serve, 1/11, and the images 5% needs
    assert "10 human validation images can serve a false-positive target of 9.09% or more" in calibration.method
    assert "needs at least 19" in calibration.method
    assert calibration.is_calibrated and calibration.temperature > 0
    assert "expected_fpr_on_new_images" not in calibration.details


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
    # the promise for new images: from the human validation images alone, whatever the model
    n_human = details["validation_human"]
    assert details["expected_fpr_on_new_images"] == pytest.approx(
        (conformal_allowed(n_human, 0.05) + 1) / (n_human + 1)
    )
    assert details["expected_fpr_on_new_images"] <= 0.05 < details["fpr_upper_95_on_new_images"]
    assert f"{n_human} human validation images" in calibration.method
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
