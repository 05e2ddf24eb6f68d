"""A loaded detector's decisions: "ai", "human", or "uncertain" when the log-odds lie near the saved threshold."""

import json
import math

import numpy as np
import pytest

from deepart_hf import DeepArtError
from deepart_hf.inference.detector import (
    DEFAULT_UNCERTAIN,
    Detector,
    Prediction,
    check_uncertain,
    load_detector,
    uncertain_interval,
)
from deepart_hf.inference.predict import summary_line
from deepart_hf.models import create_model
from deepart_hf.models.calibration import Calibration


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


def test_python_the_command_line_and_the_demo_give_one_decision_by_default(tmp_path, capsys):
    """An image whose log-odds lie 0.5 above the threshold's: inside the default band, so every entry point
    says "uncertain" unless asked otherwise (and "ai" with the band set to 0)."""
    from deepart_hf.cli import main as cli
    from deepart_hf.inference.demo import analyse
    from helpers import write_image

    image = write_image(tmp_path / "painting.png", size=32, seed=3)
    model, processor = create_model("vit-test", from_scratch=True, image_size=32)
    log_odds = Detector(model, processor, device="cpu").predict([image])[0].log_odds_ai
    Calibration(threshold_log_odds=log_odds - 0.5, method="test threshold").save_to(model.config)
    folder = tmp_path / "detector"
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    detector = load_detector(folder)

    python = detector.predict([image])[0]
    assert python.log_odds_ai - python.threshold_log_odds == pytest.approx(0.5, abs=1e-5)
    table = tmp_path / "predictions.json"
    assert cli(["predict", "--model", str(folder), str(image), "--output", str(table), "--quiet"]) == 0
    command_line = json.loads(table.read_text())["rows"][0]["decision"]
    demo = analyse(detector, image)

    assert python.decision() == detector.predict_rows([image])[0].decision == command_line == "uncertain"
    assert "uncertain" in demo.verdict
    assert python.decision(0) == "ai"
