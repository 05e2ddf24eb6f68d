"""The statistics and features against cases whose answer is known by construction."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from deepart_hf.research import fidelity
from deepart_hf.research.statistics import holm, paired_comparison, paired_rank_biserial, unpaired_comparison
from helpers import png_value


def power_law_image(size: int, exponent: float, seed: int = 0) -> np.ndarray:
    """Grey image whose power spectrum falls as frequency^-exponent (random phases), scaled to [0, 1]."""
    rng = np.random.default_rng(seed)
    radius = np.hypot(np.fft.fftfreq(size)[:, None], np.fft.fftfreq(size)[None, :])
    radius[0, 0] = 1.0
    amplitude = radius ** (-exponent / 2)
    amplitude[0, 0] = 0.0
    image = np.real(np.fft.ifft2(amplitude * np.exp(2j * np.pi * rng.random((size, size)))))
    return (image - image.min()) / np.ptp(image)


@pytest.mark.parametrize("exponent", [1.5, 2.0, 3.0])
def test_spectrum_slope_recovers_a_known_power_law(exponent):
    slope = fidelity.spectrum_slope(fidelity.radial_spectrum(power_law_image(256, exponent)))
    assert slope == pytest.approx(-exponent, abs=0.1)


def test_a_period_two_trace_raises_the_spectral_peak():
    noise = np.random.default_rng(1).normal(0.5, 0.05, (128, 128))
    checkerboard = 0.02 * (-1.0) ** np.add.outer(np.arange(128), np.arange(128))
    clean, traced = fidelity.spectral_peak(noise), fidelity.spectral_peak(noise + checkerboard)
    assert clean < 1.0 and traced > clean + 2.0  # decades above the local background


def test_colour_features_of_known_images():
    grey = np.full((64, 64, 3), 128, dtype=np.uint8)
    assert fidelity.colourfulness(grey) == 0.0
    values = fidelity.colour_features(grey)
    assert values["saturation_mean"] == 0.0 and values["hue_spread"] == 0.0 and values["palette_size"] == 1
    two = grey.copy()
    two[:, :32] = (255, 0, 0)  # half pure red: saturation 1 there, one hue
    values = fidelity.colour_features(two)
    assert values["saturation_mean"] == pytest.approx(0.5) and values["palette_size"] == 2
    assert values["hue_spread"] == pytest.approx(0.0, abs=1e-6)
    assert fidelity.colourfulness(two) > 50


def test_holm_on_known_p_values():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> monotone 0.02, 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    adjusted = holm([0.01, np.nan, 0.02])
    assert np.isnan(adjusted[1]) and adjusted[[0, 2]] == pytest.approx([0.02, 0.02])


def test_a_duplicated_pair_has_zero_difference():
    pixels = np.random.default_rng(3).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    first = fidelity.image_features(png_value(pixels))
    second = fidelity.image_features(png_value(pixels, path="Aigc/copy.png"))
    assert first.features == second.features
    human = np.array([first.features["stored"]["noise_residual_rms"]] * 5)
    result = paired_comparison(human, human.copy(), n_bootstrap=200)
    assert result["p_value"] == 1.0 and result["n_nonzero"] == 0
    assert result["effect"] == {"value": 0.0, "low": 0.0, "high": 0.0}
    assert result["median_difference"] == {"value": 0.0, "low": 0.0, "high": 0.0}


def test_paired_effect_matches_the_rank_sums_and_its_sign():
    differences = np.array([1.0, -2.0, 3.0, 0.0, 4.0, -0.5, 3.0])
    # ranks of |d| without the zero: 0.5->1, 1->2, 2->3, 3,3->4.5, 4->6; R+ = 2+4.5+4.5+6 = 17, R- = 3+1 = 4
    assert paired_rank_biserial(differences)[0] == pytest.approx((17 - 4) / 21)
    human = np.random.default_rng(0).normal(size=30)
    result = paired_comparison(human, human + 1.0, n_bootstrap=300)
    assert result["effect"]["value"] == 1.0 and result["p_value"] < 1e-6 and result["share_ai_higher"] == 1.0
    assert result["median_difference"]["value"] == pytest.approx(1.0)
    flipped = paired_comparison(human + 1.0, human, n_bootstrap=300)
    assert flipped["effect"]["value"] == -1.0


def test_unpaired_effect_is_twice_the_auroc_minus_one():
    rng = np.random.default_rng(5)
    human, ai = rng.normal(size=40), rng.normal(0.7, 1.0, size=50)
    result = unpaired_comparison(human, ai, n_bootstrap=300)
    auroc = roc_auc_score([0] * 40 + [1] * 50, np.concatenate([human, ai]))
    assert result["effect"]["value"] == pytest.approx(2 * auroc - 1)
    assert result["effect"]["low"] < result["effect"]["value"] < result["effect"]["high"]
    assert 0 < result["p_value"] < 0.05 and 0 < result["ks_statistic"] <= 1
    same = unpaired_comparison(human, human, n_bootstrap=100)
    assert same["effect"]["value"] == 0.0 and same["wasserstein_sd"] == 0.0 and same["p_value"] == pytest.approx(1.0)
