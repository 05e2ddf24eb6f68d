"""Perturbations: each does what its name says, and the PNG control changes nothing."""

import numpy as np
import pytest
from PIL import Image

from deepart_hf.errors import DeepArtError
from deepart_hf.evaluation.perturbations import AUTO_FULL_MAX_IMAGES, FAMILIES, PERTURBATIONS, select_perturbations
from helpers import random_pixels


@pytest.fixture
def image():
    return Image.fromarray(random_pixels(64, 80))


def by_label(label):
    return next(p for p in PERTURBATIONS if p.label == label)


def test_jpeg_blur_downscale_format_and_colour_perturbations_are_all_there():
    assert {p.label for p in PERTURBATIONS} >= {
        "JPEG quality 95", "JPEG quality 75", "JPEG quality 50", "JPEG quality 30",
        "Gaussian blur sigma 0.5", "Gaussian blur sigma 1.0", "Gaussian blur sigma 2.0",
        "downscale factor 0.75", "downscale factor 0.5", "downscale factor 0.25",
        "all re-encoded as JPEG q90", "all re-encoded as PNG", "colour removed grayscale",
    }  # fmt: skip


def test_png_is_lossless_and_jpeg_and_blur_are_not(image):
    original = np.asarray(image)
    assert np.array_equal(np.asarray(by_label("all re-encoded as PNG").apply(image)), original)
    for label in ("JPEG quality 30", "Gaussian blur sigma 2.0"):
        changed = np.asarray(by_label(label).apply(image)).astype(int)
        assert np.abs(changed - original).mean() > 5


def test_downscale_and_grayscale(image):
    assert by_label("downscale factor 0.25").apply(image).size == (20, 16)
    gray = np.asarray(by_label("colour removed grayscale").apply(image))
    assert (
        gray.shape == (64, 80, 3)
        and np.array_equal(gray[..., 0], gray[..., 1])
        and np.array_equal(gray[..., 1], gray[..., 2])
    )


def test_selecting_families():
    assert select_perturbations("none") == ()
    assert {p.family for p in select_perturbations("jpeg,color")} == {"jpeg", "color"}
    assert len(select_perturbations("all")) == len(PERTURBATIONS) and set(FAMILIES) == {p.family for p in PERTURBATIONS}
    with pytest.raises(DeepArtError, match="unknown robustness check 'sharpen'"):
        select_perturbations("jpeg,sharpen")


def test_quick_keeps_one_strength_per_family_and_auto_follows_the_test_split_s_size():
    quick = select_perturbations("quick")
    assert sorted(p.family for p in quick) == sorted(FAMILIES)
    assert {p.label for p in quick} >= {"JPEG quality 75", "all re-encoded as JPEG q90", "colour removed grayscale"}
    assert select_perturbations("full") == select_perturbations("all") == PERTURBATIONS
    assert select_perturbations("auto", n_images=482) == PERTURBATIONS
    assert select_perturbations("auto", n_images=AUTO_FULL_MAX_IMAGES + 1) == quick
