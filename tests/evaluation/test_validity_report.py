"""The validity report as a user meets it: train.py writes it, `deepart-hf evaluate` reproduces it from the saved
model, several datasets are reported one by one, and cross-eval fills the train-on-A / test-on-B matrix."""

import json
import shutil

import numpy as np
import pytest

import deepart_hf
import train
from deepart_hf.cli import main as deepart_hf_cli
from deepart_hf.data.loading import load_splits
from deepart_hf.evaluation.predictions import read_predictions_csv
from helpers import FAST_TRAINING

FAST = [*FAST_TRAINING, "--save_total_limit", "1", "--max_eval_samples", "24"]


@pytest.fixture(scope="module")
def synthetic_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "synthetic"
    deepart_hf.publish(deepart_hf.build("synthetic", n_per_class=40, image_size=64, seed=5), out)
    return out


@pytest.fixture(scope="module")
def genres_folder(genres_sample, tmp_path_factory):
    """The genre-study sample's three genres as one <label>/ folder (its own layout is read by genres.py)."""
    flat = tmp_path_factory.mktemp("genres-flat")
    for genre in ("castle", "ganyu", "sports_car"):
        for split in ("training_set", "testing_set"):
            for upstream, label in (("AI_generated", "ai"), ("hand_drawing", "human")):
                for path in (genres_sample / genre / split / upstream).iterdir():
                    (flat / label).mkdir(exist_ok=True)
                    shutil.copy2(path, flat / label / f"{genre}-{split}-{path.name}")
    out = tmp_path_factory.mktemp("data") / "genres"
    deepart_hf.publish(deepart_hf.build("folder", flat, split_ratio="4:2:4"), out)
    return out


@pytest.fixture(scope="module")
def trained_run(synthetic_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "resnet-crop"
    assert (
        train.main(
            [
                *FAST,
                "--dataset",
                str(synthetic_folder),
                "--model",
                "resnet10t",
                "--from_scratch",
                "--preprocess",
                "crop",
                "--image_size",
                "48",
                "--eval_crops",
                "2",
                "--num_train_epochs",
                "2",
                "--robustness",
                "all",
                "--output_dir",
                str(out),
            ]
        )
        == 0
    )
    return out


def test_a_run_writes_the_validity_report_at_its_calibrated_threshold(trained_run):
    report = json.loads((trained_run / "evaluation.json").read_text())
    metrics = json.loads((trained_run / "metrics.json").read_text())
    config = json.loads((trained_run / "config.json").read_text())
    calibration = config["deepart_calibration"]
    assert calibration["target_fpr"] == 0.05 and calibration["temperature"] > 0
    assert (
        report["threshold"]["threshold_log_odds"]
        == calibration["threshold_log_odds"]
        == metrics["calibration"]["threshold_log_odds"]
    )
    # the clean figures are the run's own test metrics, with intervals around them
    for key in ("accuracy", "mean_accuracy", "auroc", "average_precision", "tpr_at_5_fpr"):
        assert report["clean"][key]["value"] == metrics["test"][key]
        assert report["clean"][key]["low"] <= report["clean"][key]["value"] <= report["clean"][key]["high"]
    predictions = read_predictions_csv(trained_run / "predictions.csv")
    decided_ai = predictions["log_odds_ai"] >= calibration["threshold_log_odds"]
    assert np.array_equal(predictions["predicted"] == 1, decided_ai)
    assert len(report["perturbations"]) == 13
    by_name = {f"{p['name']} {p['param']}": p["metrics"] for p in report["perturbations"]}
    assert by_name["all re-encoded as PNG"]["auroc"]["value"] == report["clean"]["auroc"]["value"]  # lossless control
    for family in ("jpeg", "blur", "downscale", "format", "color"):
        assert (trained_run / f"robustness_{family}.png").stat().st_size > 1000
    assert (trained_run / "reliability.png").is_file()
    card = (trained_run / "README.md").read_text()
    assert "## Validity" in card and "all re-encoded as JPEG q90" in card and "indicative, not precise" in card
    # the card states what the threshold promises on new images, from how many human validation images
    details = calibration["details"]
    if "expected_fpr_on_new_images" in details:
        promise = f"expected FPR on new human images of the same collection {details['expected_fpr_on_new_images']:.1%}"
        assert promise in card and f"of {details['validation_human']} human validation images" in card
    else:
        smallest = 1 / (details["validation_human"] + 1)
        assert f"{details['validation_human']} human validation images can serve a false-positive target of" in card
        assert f"{smallest * 100:.3g}% or more, not 5%, which needs at least 19 human images" in card


def test_deepart_hf_evaluate_reproduces_the_run_s_report(trained_run, synthetic_folder, tmp_path, capsys):
    out = tmp_path / "evaluation"
    assert (
        deepart_hf_cli(
            [
                "evaluate",
                "--model",
                str(trained_run),
                "--dataset",
                str(synthetic_folder),
                "--output_dir",
                str(out),
                "--n_resamples",
                "50",
                "--max_samples",
                "24",
            ]
        )
        == 0
    )
    ours, runs = (
        json.loads((out / "evaluation.json").read_text()),
        json.loads((trained_run / "evaluation.json").read_text()),
    )
    assert ours["clean"] == runs["clean"]
    assert [p["metrics"] for p in ours["perturbations"]] == [p["metrics"] for p in runs["perturbations"]]
    np.testing.assert_array_equal(
        read_predictions_csv(out / "predictions.csv")["log_odds_ai"],
        read_predictions_csv(trained_run / "predictions.csv")["log_odds_ai"],
    )
    # the run saved its test split's familiarity distances: evaluating that split again recognises it
    assert ours["familiarity"] == runs["familiarity"] and ours["familiarity"]["own_test_split"]
    assert ours["familiarity"]["reference"]["kind"] == "test split" and ours["familiarity"]["auroc"] is None
    assert ours["familiarity"]["n"] == ours["clean"]["n"] >= ours["familiarity"]["n_unfamiliar"] >= 0
    printed = capsys.readouterr().out
    assert "### Decision" in printed and "These images are the model's own test split" in printed
    # a report is not overwritten without being asked
    assert (
        deepart_hf_cli(
            ["evaluate", "--model", str(trained_run), "--dataset", str(synthetic_folder), "--output_dir", str(out)]
        )
        == 2
    )
    assert "already holds a report" in capsys.readouterr().err


def test_several_datasets_train_together_and_are_reported_one_by_one(
    synthetic_folder, deepart_folder, tmp_path, capsys
):
    out = tmp_path / "mixed"
    assert (
        train.main(
            [
                *FAST,
                "--dataset",
                str(synthetic_folder),
                "--dataset",
                str(deepart_folder),
                "--model",
                "vit-test",
                "--from_scratch",
                "--image_size",
                "32",
                "--robustness",
                "none",
                "--output_dir",
                str(out),
            ]
        )
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    report = json.loads((out / "evaluation.json").read_text())
    assert set(report["per_dataset"]) == {"synthetic", "deepart"}
    assert sum(m["n"] for m in report["per_dataset"].values()) == metrics["test"]["n"] == report["clean"]["n"]
    assert report["perturbations"] == []
    assert set(metrics["per_dataset"]) == {"synthetic", "deepart"}
    card = (out / "README.md").read_text()
    assert "## Per dataset" in card
    # the sources weigh the same in training, by default, and the run says so where it is recorded
    assert "- Sources: each weighs the same in training" in card
    assert json.loads((out / "run_args.json").read_text())["arguments"]["data"]["balance_sources"] is True
    train_images = {
        name: len(load_splits(str(folder))["train"])
        for name, folder in (("deepart", deepart_folder), ("synthetic", synthetic_folder))
    }
    assert (
        f"each epoch draws equally from deepart {train_images['deepart']}, synthetic {train_images['synthetic']}"
        in capsys.readouterr().out
    )


def test_cross_eval_fills_the_matrix(synthetic_folder, deepart_folder, genres_folder, tmp_path):
    out = tmp_path / "cross"
    assert (
        deepart_hf_cli(
            [
                "cross-eval",
                "--dataset",
                f"{synthetic_folder},{deepart_folder}",
                "--dataset",
                str(genres_folder),
                "--output_dir",
                str(out),
                "--n_resamples",
                "20",
                *FAST,
                "--max_eval_samples",
                "1000",
                "--model",
                "vit-test",
                "--from_scratch",
                "--image_size",
                "32",
            ]
        )
        == 0
    )
    report = json.loads((out / "cross_source.json").read_text())
    assert report["sources"] == ["synthetic", "deepart", "genres"]
    assert report["trained_on"] == ["synthetic", "deepart", "genres"]
    for trained in report["trained_on"]:
        for test in report["sources"]:
            cell = report["cells"][trained][test]
            assert cell["n"] > 0 and cell["auroc"]["low"] <= cell["auroc"]["value"] <= cell["auroc"]["high"]
    # the diagonal cell is the run's own test evaluation
    own = json.loads((out / "train-deepart" / "evaluation.json").read_text())["clean"]
    assert report["cells"]["deepart"]["deepart"]["auroc"]["value"] == own["auroc"]["value"]
    assert (out / "cross_source.png").stat().st_size > 1000 and "trained on genres" in (
        out / "cross_source.md"
    ).read_text()
