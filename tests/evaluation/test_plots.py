"""The pictures of a result are real PNG files, written atomically, for every case including degenerate ones."""

import os
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn import metrics as skm

from deepart_hf.constants import AI, HUMAN
from deepart_hf.evaluation.plots import plot_confusion_matrix, plot_roc_curve, plot_training_curves


def random_case(seed, n=120):
    rng = np.random.default_rng(seed)
    references = (rng.random(n) < 0.4).astype(int)
    scores = rng.normal(size=n) + 1.5 * (references - 0.5)
    return references, (scores >= 0).astype(int), scores


def assert_png(path: Path):
    assert path.stat().st_size > 0
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width > 100
    assert [name for name in os.listdir(path.parent) if name.endswith(".tmp")] == []


def test_plots_write_png_files(tmp_path):
    references, predictions, scores = random_case(seed=6)
    cm = skm.confusion_matrix(references, predictions, labels=[HUMAN, AI])
    assert_png(plot_confusion_matrix(cm, tmp_path / "confusion.png", title="test"))
    assert_png(plot_confusion_matrix([[3, 0], [0, 0]], tmp_path / "confusion_one_class.png"))
    assert_png(plot_roc_curve(references, scores, tmp_path / "roc.png"))
    assert_png(plot_roc_curve([HUMAN] * 4, [0.1, 0.2, 0.3, 0.4], tmp_path / "roc_one_class.png"))

    log_history = [
        {"loss": 0.7, "epoch": 0.5, "step": 5},
        {"loss": 0.5, "epoch": 1.0, "step": 10},
        {"eval_loss": 0.6, "eval_accuracy": 0.7, "eval_mean_accuracy": 0.65, "epoch": 1.0, "step": 10},
        {"train_runtime": 3.2, "train_loss": 0.6, "epoch": 1.0, "step": 10},
    ]
    assert_png(plot_training_curves(log_history, tmp_path / "training.png"))
    two_stages = [{**entry, "stage": "frozen"} for entry in log_history] + [
        {"loss": 0.3, "epoch": 1.5, "step": 5, "stage": "unfrozen"},
        {
            "eval_loss": 0.4,
            "eval_accuracy": 0.8,
            "eval_mean_accuracy": 0.8,
            "epoch": 2.0,
            "step": 10,
            "stage": "unfrozen",
        },
    ]
    assert_png(plot_training_curves(two_stages, tmp_path / "training_two_stages.png"))
    assert_png(plot_training_curves([], tmp_path / "training_empty.png"))
