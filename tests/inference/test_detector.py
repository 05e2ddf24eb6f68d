"""A loaded detector's decisions: "ai", "human", or "uncertain" when the log-odds lie near the saved threshold."""

import logging
import math
import shutil

import numpy as np
import pytest
from PIL import Image

from deepart_hf import DeepArtError
from deepart_hf.cli import main as cli
from deepart_hf.data.loading import load_splits
from deepart_hf.inference.detector import (
    DEFAULT_UNCERTAIN,
    Detector,
    Prediction,
    as_image,
    check_uncertain,
    load_detector,
    uncertain_interval,
)
from deepart_hf.inference.predict import summary_line
from deepart_hf.models import create_model
from deepart_hf.models.calibration import Calibration
from deepart_hf.models.familiarity import FAMILIARITY_FILE
from deepart_hf.models.features import head_inputs
from helpers import DEEPART_SAMPLE, random_pixels


def logit(p: float) -> float:
    return math.log(p / (1 - p))


@pytest.fixture(scope="module")
def low_threshold_detector():
    """A detector calibrated for few false alarms, as the main job's model is: P(ai) >= 0.033."""
    model, processor = create_model("vit-test", from_scratch=True, image_size=32)
    Calibration(threshold_log_odds=logit(0.033), method="threshold for 5% FPR").save_to(model.config)
    return Detector(model, processor, device="cpu")


def test_with_the_default_band_a_confident_human_image_is_human_and_a_confident_ai_image_is_ai(
    low_threshold_detector,
):
    # P(ai) of the main job's human and AI test images, then two just beside the threshold
    scores = np.array([logit(0.0015), logit(0.97), logit(0.02), logit(0.05)])
    predictions = low_threshold_detector.predict_log_odds(scores)
    assert [p.decision(DEFAULT_UNCERTAIN) for p in predictions] == ["human", "ai", "uncertain", "uncertain"]
    assert [p.label for p in predictions] == ["human", "ai", "human", "ai"]


def test_the_band_is_in_log_odds_around_the_threshold():
    low, high = uncertain_interval(logit(0.033), 1.0)
    assert (low, high) == pytest.approx((0.033 / (0.033 + 0.967 * math.e), 0.033 * math.e / (0.033 * math.e + 0.967)))
    assert uncertain_interval(0.0, 1.0) == pytest.approx((1 / (1 + math.e), math.e / (1 + math.e)))
    at_edge = Prediction(float(1 / (1 + math.exp(-(0.0 + 1.0)))), 1.0, 0.0)
    assert at_edge.decision(1.0) == "ai" and at_edge.decision(1.0 + 1e-9) == "uncertain"
    assert Prediction(0.5, 0.0, 0.0).decision(0.0) == "ai"  # no band: always decide


@pytest.mark.parametrize("width", [-0.1, float("nan"), float("inf")])
def test_a_band_that_is_not_a_finite_width_is_refused(width):
    with pytest.raises(DeepArtError, match="--uncertain must be a finite number >= 0"):
        check_uncertain(width)


def test_the_summary_says_which_probabilities_are_uncertain(low_threshold_detector):
    rows = low_threshold_detector.predict_rows([], uncertain=DEFAULT_UNCERTAIN)
    line = summary_line(rows, low_threshold_detector, DEFAULT_UNCERTAIN, 0)
    assert "threshold P(ai) = 0.033" in line and "uncertain for P(ai) 0.0124-0.0849" in line, line


# --- familiarity: how far each image lies from the images the detector learnt from ----------------------------


def training_and_validation_images(data) -> list:
    """The images a FAST_TRAINING run stores: all of its training split, and the 8 validation images it reads."""
    splits = load_splits(str(data))
    return [x["image"] for x in [*splits["train"], *splits["validation"].shuffle(seed=0).select(range(8))]]


def test_a_crop_detector_stores_the_mean_of_its_evaluated_crops_features(crop_run, crop_detector):
    images = training_and_validation_images(crop_run[1])
    features = crop_detector.features(images)
    pixels = crop_detector.processor(images=[as_image(image) for image in images[:2]], return_tensors="pt")
    per_crop = head_inputs(crop_detector.model, pixels["pixel_values"])
    assert per_crop.shape[1] == 3  # --eval_crops 3
    np.testing.assert_allclose(features[:2], per_crop.mean(dim=1).numpy(), rtol=0, atol=1e-5)
    stored = crop_detector.familiarity.features
    np.testing.assert_allclose(stored, features / np.linalg.norm(features, axis=1, keepdims=True), atol=1e-5)


def test_each_prediction_says_how_far_its_image_lies_from_the_training_images(crop_detector):
    familiarity = crop_detector.familiarity
    images = [*sorted(DEEPART_SAMPLE.glob("Human/*"))[:3], Image.fromarray(random_pixels(90, 70, seed=3))]
    distances = familiarity.distances(crop_detector.features(images))
    predictions = crop_detector.predict(images)
    np.testing.assert_allclose([p.distance for p in predictions], distances, rtol=0, atol=1e-6)
    assert [p.distance_percentile for p in predictions] == pytest.approx(familiarity.percentiles(distances).tolist())
    assert [p.familiar for p in predictions] == [bool(d <= familiarity.threshold) for d in distances]
    rows = crop_detector.predict_rows(images)
    assert [(r.distance, r.distance_percentile, r.familiar) for r in rows] == [
        (p.distance, p.distance_percentile, p.familiar) for p in predictions
    ]
    # without it, the same scores and no distances
    plain = Detector(crop_detector.model, crop_detector.processor, device="cpu").predict(images)
    assert [p.prob_ai for p in plain] == pytest.approx([p.prob_ai for p in predictions], abs=1e-6)
    assert {(p.distance, p.distance_percentile, p.familiar) for p in plain} == {(None, None, None)}


def copy_run(run, to):
    return shutil.copytree(run, to, ignore=shutil.ignore_patterns("checkpoint-*", "examples", "*.png"))


def test_a_detector_saved_before_familiarity_predicts_as_before_and_says_so_once(
    crop_run, crop_detector, tmp_path, caplog
):
    old = copy_run(crop_run[0], tmp_path / "old")
    (old / FAMILIARITY_FILE).unlink()
    images = sorted(DEEPART_SAMPLE.glob("Aigc/*"))[:5]
    with caplog.at_level(logging.WARNING):
        detector = load_detector(old)
        predictions = detector.predict(images)
        rows = detector.predict_rows(images)
    said = [record.getMessage() for record in caplog.records if FAMILIARITY_FILE in record.getMessage()]
    assert len(said) == 1 and str(old) in said[0] and "no familiarity data" in said[0]
    assert detector.familiarity is None and {r.familiar for r in rows} == {None}
    expected = [p.prob_ai for p in crop_detector.predict(images)]
    np.testing.assert_allclose([p.prob_ai for p in predictions], expected, rtol=0, atol=1e-6)


def test_a_damaged_familiarity_file_is_refused_in_one_line_naming_it(crop_run, tmp_path, capsys):
    damaged = copy_run(crop_run[0], tmp_path / "damaged")
    (damaged / FAMILIARITY_FILE).write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    assert cli(["predict", "--model", str(damaged), str(DEEPART_SAMPLE / "Aigc" / "Gushici-0.jpg")]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and str(damaged / FAMILIARITY_FILE) in error[0], error


def test_the_cards_transformers_code_gives_a_crop_detectors_distance(crop_run, crop_detector, monkeypatch):
    from helpers import card_familiarity_distances

    image = DEEPART_SAMPLE / "Human" / "Gushici-3.PNG"
    distances, familiar = card_familiarity_distances(crop_run[0], image, monkeypatch)
    expected = crop_detector.predict([image])[0]
    assert distances == pytest.approx([expected.distance], abs=1e-5) and familiar == [expected.familiar]
