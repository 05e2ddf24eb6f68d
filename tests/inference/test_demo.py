"""The demo without a browser: what it shows for good and bad files, the figures beside it, and the Space files
a training run writes."""

import json
import runpy
import shutil

import numpy as np
import pytest
from PIL import Image

from deepart_hf.errors import PublishError
from deepart_hf.inference.demo import analyse, figures_markdown
from deepart_hf.inference.space import push_space, requirements, stage_space
from helpers import DEEPART_SAMPLE, random_pixels


def test_a_crop_model_shows_both_probabilities_a_decision_and_a_heat_map(crop_detector):
    shown = analyse(crop_detector, DEEPART_SAMPLE / "Aigc" / "Gushici-3.jpg")
    assert shown.probabilities["ai"] + shown.probabilities["human"] == pytest.approx(1)
    assert shown.probabilities["ai"] == crop_detector.predict([DEEPART_SAMPLE / "Aigc" / "Gushici-3.jpg"])[0].prob_ai
    assert any(words in shown.verdict for words in ("likely AI-generated", "likely human-made", "uncertain"))
    assert f"P(ai) = **{shown.probabilities['ai']:.3f}**" in shown.verdict
    heat = np.asarray(shown.heatmap)
    assert heat.ndim == 3 and heat.shape[0] > 200 and heat.std() > 10  # a picture, not a blank


def test_bad_files_show_a_message(crop_detector, tmp_path, monkeypatch):
    (tmp_path / "paper.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    good = tmp_path / "ok.png"
    Image.fromarray(random_pixels(40, 40)).save(good)
    (tmp_path / "cut.png").write_bytes(good.read_bytes()[:300])
    Image.fromarray(random_pixels(100, 100)).save(tmp_path / "huge.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 4000)  # huge.png is then a decompression bomb to Pillow
    for name, message in (
        ("paper.pdf", "not an image Pillow can read"),
        ("cut.png", "corrupt or truncated"),
        ("huge.png", "too large"),
    ):
        shown = analyse(crop_detector, tmp_path / name)
        assert shown.probabilities is None and f"Cannot score `{name}`" in shown.verdict and message in shown.verdict
    assert analyse(crop_detector, good).probabilities is not None  # and the next file is scored as usual


def test_figures_come_from_evaluation_json_else_metrics_json(crop_detector, crop_run, tmp_path):
    assert "95% intervals" in figures_markdown(crop_run[0], crop_detector)  # every run writes evaluation.json
    only_metrics = tmp_path / "metrics-only"
    only_metrics.mkdir()
    shutil.copy2(crop_run[0] / "metrics.json", only_metrics / "metrics.json")
    from_metrics = figures_markdown(only_metrics, crop_detector)
    metrics = json.loads((crop_run[0] / "metrics.json").read_text())["test"]
    assert f"| accuracy | {100 * metrics['accuracy']:.1f}% |" in from_metrics and "deepart-hf evaluate" in from_metrics

    evaluation = {
        "clean": {
            "accuracy": {"value": 0.9, "low": 0.8, "high": 0.95},
            "auroc": {"value": 0.97, "low": 0.9, "high": 0.99},
            "n": 60,
            "n_human": 30,
            "n_ai": 30,
        },
        "threshold": {"threshold_log_odds": 0.2},
        "perturbations": [
            {"name": "jpeg", "param": 75, "metrics": {"accuracy": {"value": 0.7}, "auroc": {"value": 0.8}}}
        ],
        "per_dataset": {"genres": {"accuracy": {"value": 0.55}, "auroc": {"value": 0.6}}},
    }
    (tmp_path / "evaluation.json").write_text(json.dumps(evaluation))
    shown = figures_markdown(tmp_path, crop_detector)
    assert "| accuracy | 90.0% | 80.0%–95.0% |" in shown and "60 images: 30 human, 30 AI" in shown
    assert "| jpeg 75 | 70.0% | 80.0% |" in shown and "genres: accuracy 55.0%, AUROC 60.0%" in shown
    assert "No figures" in figures_markdown(tmp_path / "empty", crop_detector)


def test_a_training_run_folder_is_a_space(crop_run, tmp_path):
    run = crop_run[0]
    examples = sorted(p.name for p in (run / "examples").iterdir())
    assert len(examples) == 4 and sum(name.startswith("ai-") for name in examples) == 2
    assert (run / "requirements.txt").read_text().splitlines() == requirements() and "gradio>=6,<7" in requirements()
    namespace = runpy.run_path(str(run / "app.py"))  # what a Space runs, without launching it
    assert type(namespace["demo"]).__name__ == "Blocks"

    staged = stage_space(run, tmp_path, "my-detector")
    card = (staged / "README.md").read_text()
    assert card.startswith("---\ntitle: my-detector\nsdk: gradio\n") and "app_file: app.py" in card
    assert (staged / "MODEL_CARD.md").read_text() == (run / "README.md").read_text()
    assert (staged / "deepart_hf" / "inference" / "demo.py").is_file() and (staged / "model.safetensors").is_file()
    assert (staged / "familiarity.safetensors").is_file()  # the Space says whether an image is familiar too
    assert not list(staged.glob("checkpoint-*"))
    with pytest.raises(PublishError, match="push to some-org/detector-demo failed"):
        push_space(run, "some-org/detector-demo")  # offline in tests: one line, nothing lost


def test_the_demo_says_beside_the_score_whether_the_image_is_like_the_training_images(crop_detector):
    from deepart_hf.inference.detector import Detector

    path = DEEPART_SAMPLE / "Human" / "Gushici-3.PNG"
    shown = analyse(crop_detector, path)
    expected = crop_detector.predict([path])[0]
    assert shown.prediction.distance == pytest.approx(expected.distance, abs=1e-6)
    assert shown.prediction.familiar == expected.familiar
    said = "**Familiar ground**" if expected.familiar else "**Unfamiliar**"
    assert said in shown.verdict and f"cosine distance {expected.distance:.4f}" in shown.verdict
    without = analyse(Detector(crop_detector.model, crop_detector.processor, device="cpu"), path)
    assert "carries no familiarity data" in without.verdict
