"""train.py --task attribution end to end on the multi-generator synthetic set: the K-class head, the run's files,
the saved model reproducing predictions.csv through load_detector, predict's generator column and the demo."""

import csv
import json

import numpy as np
import pytest

import train
from deepart_hf.cli import main as cli
from deepart_hf.constants import LABELS, REAL_GENERATOR
from deepart_hf.data.loading import load_splits
from deepart_hf.errors import DeepArtError
from deepart_hf.inference import load_detector
from deepart_hf.inference.demo import analyse
from deepart_hf.models import create_model, load_trained
from deepart_hf.models.familiarity import Familiarity
from helpers import FAST_TRAINING

CLASSES = [REAL_GENERATOR, "upsampler-p2", "upsampler-p3", "upsampler-p4"]
REPRODUCED = 1e-6


@pytest.fixture(scope="module")
def attribution_run(tmp_path_factory):
    import deepart_hf

    data = tmp_path_factory.mktemp("data") / "synthetic-g3"
    deepart_hf.publish(
        deepart_hf.build("synthetic", n_per_class=20, image_size=32, seed=1, extra={"generators": 3}), data
    )
    run = tmp_path_factory.mktemp("runs") / "attribution"
    argv = [
        "--task",
        "attribution",
        "--dataset",
        data,
        "--model",
        "resnet10t",
        "--from_scratch",
        "--preprocess",
        "crop",
        "--image_size",
        "32",
        "--output_dir",
        run,
        *FAST_TRAINING,
        "--save_total_limit",
        "1",
        "--keep_checkpoints",  # its trainer_state.json is read below
        "--seed",
        "3",
    ]
    assert train.main([str(a) for a in argv]) == 0
    return run, data


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_factory_builds_a_k_class_head_and_keeps_the_binary_one():
    model, _ = create_model("vit-test", from_scratch=True, image_size=32, labels=CLASSES)
    assert model.config.num_labels == 4 and model.config.id2label == dict(enumerate(CLASSES))
    assert model.classifier.out_features == 4
    binary, _ = create_model("vit-test", from_scratch=True, image_size=32)
    assert binary.config.id2label == dict(enumerate(LABELS)) and binary.classifier.out_features == 2
    with pytest.raises(DeepArtError, match="at least 2 distinct"):
        create_model("vit-test", from_scratch=True, image_size=32, labels=["real", "real"])


def test_run_leaves_attribution_metrics_plots_and_a_card(attribution_run):
    run, _ = attribution_run
    for name in (
        "metrics.json",
        "predictions.csv",
        "confusion_matrix.png",
        "roc_curve.png",
        "README.md",
        "config.json",
    ):
        assert (run / name).is_file(), name
    summary = json.loads((run / "metrics.json").read_text())
    test = summary["test"]
    assert summary["task"] == "attribution" and summary["classes"] == CLASSES and "calibration" in summary["skipped"]
    assert np.asarray(test["confusion_matrix"]).shape == (4, 4) and np.sum(test["confusion_matrix"]) == test["n"] == 8
    assert set(test["per_class_accuracy"]) == set(CLASSES) and 0 <= test["macro_f1"] <= 1
    assert test["detection"]["n_human"] + test["detection"]["n_ai"] == 8
    config = json.loads((run / "config.json").read_text())
    assert [config["id2label"][str(i)] for i in range(4)] == CLASSES
    card = (run / "README.md").read_text()
    assert "generator-attribution" in card and "`upsampler-p4`" in card and "type: macro_f1" in card
    # familiarity is stored for every task: here labelled by generator
    familiarity = Familiarity.load(run)
    assert familiarity.size > 5 and set(familiarity.labels.tolist()) == {0, 1, 2, 3}
    assert "## Familiarity: is an image like the training images?" in card
    # the per-epoch evaluation logged the attribution headline numbers
    state = json.loads(next(run.glob("checkpoint-*/trainer_state.json")).read_text())
    assert any("eval_macro_f1" in entry and "eval_ai_auroc" in entry for entry in state["log_history"])


def test_saved_model_reproduces_predictions_csv_class_probabilities(attribution_run):
    run, data = attribution_run
    rows = read_rows(run / "predictions.csv")
    assert list(rows[0])[:5] == ["id", "label", "predicted", "prob_ai", "log_odds_ai"]
    assert list(rows[0])[5:] == [f"prob_{name}" for name in CLASSES]
    stored = load_splits(str(data))["test"]
    images = {
        row["image_id"]: row["image"]
        for row in stored.cast_column("image", stored.features["image"].__class__(decode=False))
    }
    predictions = load_detector(run).predict([images[row["id"]] for row in rows])
    saved = np.array([[float(row[f"prob_{name}"]) for name in CLASSES] for row in rows])
    again = np.array([[p.class_probs[name] for name in CLASSES] for p in predictions])
    np.testing.assert_allclose(again, saved, atol=REPRODUCED, rtol=0)
    np.testing.assert_allclose(saved.sum(axis=1), 1.0, atol=1e-12)
    prob_ai = np.array([float(row["prob_ai"]) for row in rows])
    np.testing.assert_allclose(prob_ai, 1.0 - saved[:, 0], atol=1e-12)  # P(ai) = 1 - P(real)
    np.testing.assert_allclose([p.prob_ai for p in predictions], prob_ai, atol=REPRODUCED, rtol=0)
    assert [p.generator for p in predictions] == [row["predicted"] for row in rows]


def test_binary_loading_still_refuses_an_attribution_model(attribution_run):
    with pytest.raises(DeepArtError, match="not a human/ai detector"):
        load_trained(str(attribution_run[0]))


def test_predict_shows_the_generator_and_writes_it(attribution_run, tmp_path, capsys):
    run, data = attribution_run
    stored = load_splits(str(data))["test"]
    files = []
    for index in range(3):
        path = tmp_path / f"image-{index}.png"
        stored[index]["image"].save(path)
        files.append(path)
    assert cli(["predict", "--model", str(run), *map(str, files), "--output", str(tmp_path / "out.csv")]) == 0
    printed = capsys.readouterr().out
    assert "generator" in printed.splitlines()[0]
    rows = read_rows(tmp_path / "out.csv")
    assert list(rows[0]) == [
        *("file", "prob_ai", "log_odds_ai", "decision", "error", "generator", "generator_prob"),
        *("distance", "distance_percentile", "familiar"),  # how far each image lies from the training images
    ]
    detector = load_detector(run)
    expected = detector.predict(files)
    for row, prediction in zip(rows, expected):
        assert row["generator"] == prediction.generator in CLASSES and row["generator"] in printed
        assert abs(float(row["generator_prob"]) - prediction.class_probs[prediction.generator]) < REPRODUCED
    assert cli(["predict", "--model", str(run), str(files[0]), "--output", str(tmp_path / "out.json")]) == 0
    record = json.loads((tmp_path / "out.json").read_text())["rows"][0]
    assert set(record["class_probs"]) == set(CLASSES)
    # the demo's label shows every class's probability
    analysis = analyse(detector, files[0])
    assert set(analysis.probabilities) == set(CLASSES) and abs(sum(analysis.probabilities.values()) - 1) < 1e-9
    assert "Most probable source" in analysis.verdict


def test_attribution_needs_a_classlabel_column(attribution_run, tmp_path, capsys):
    _, data = attribution_run
    argv = [
        "--task",
        "attribution",
        "--label_column",
        "source",
        "--dataset",
        str(data),
        "--model",
        "vit-test",
        "--from_scratch",
        "--output_dir",
        str(tmp_path / "x"),
        *FAST_TRAINING,
    ]
    assert train.main(argv) == 2
    assert "column 'source' is Value, not a ClassLabel" in capsys.readouterr().err
    assert train.main([*argv[:2], "--label_map", "real=human", *argv[4:]]) == 2
    assert "drop it" in capsys.readouterr().err


def test_streamed_attribution_maps_the_generator_column_to_the_head(attribution_run, tmp_path):
    _, data = attribution_run
    out = tmp_path / "streamed"
    argv = [
        "--task",
        "attribution",
        "--streaming",
        "--max_steps",
        "1",
        "--dataset",
        str(data),
        "--model",
        "resnet10t",
        "--from_scratch",
        "--preprocess",
        "crop",
        "--image_size",
        "32",
        "--output_dir",
        str(out),
        *FAST_TRAINING,
    ]
    assert train.main(argv) == 0
    rows = read_rows(out / "predictions.csv")
    stored = load_splits(str(data))["test"]
    truth = {row["image_id"]: CLASSES[row["generator"]] for row in stored.select_columns(["image_id", "generator"])}
    assert len(rows) == 8 and all(row["label"] == truth[row["id"]] for row in rows)
