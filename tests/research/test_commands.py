"""deepart-hf fidelity, baselines and few-shot end to end on the real DeepArt sample, through the console script."""

import csv
import json

import pytest
from PIL import Image

from deepart_hf.cli import main as cli
from deepart_hf.research.few_shot import parse_shots, sample_shots
from deepart_hf.research.fidelity import FEATURES


def assert_png(path):
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width > 200


def test_fidelity_on_deepart_pairs(deepart_folder, tmp_path, capsys):
    out = tmp_path / "fidelity"
    command = [
        "fidelity",
        "--dataset",
        str(deepart_folder),
        "--config",
        "pairs",
        "--splits",
        "train",
        "--output_dir",
        str(out),
        "--bootstrap",
        "200",
    ]
    assert cli(command) == 0
    result = json.loads((out / "fidelity.json").read_text())
    assert result["design"] == "paired" and result["n_pairs"] == 4 and result["n_images"] == 8
    assert sorted(result["ranking"]) == sorted(FEATURES) and set(result["format_control"]) == set(FEATURES)
    for variant in ("stored", "jpeg90"):
        for entry in result["comparisons"][variant].values():
            assert entry["n_pairs"] == 4 and entry["p_value"] <= entry["p_holm"] <= 1
            assert entry["effect"]["low"] <= entry["effect"]["value"] <= entry["effect"]["high"]
    # the ranking really is by |effect|
    effects = [abs(result["comparisons"]["stored"][name]["effect"]["value"]) for name in result["ranking"]]
    assert effects == sorted(effects, reverse=True)
    with open(out / "features.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8 and {row["label"] for row in rows} == {"human", "ai"}
    assert all(f"{name}@jpeg90" in rows[0] for name in FEATURES)
    report = (out / "report.md").read_text()
    assert all(f"`{name}`" in report for name in FEATURES) and "changes with format" in report
    for name in ("paired_slopes.png", "spectra.png", "gallery.png"):
        assert_png(out / name)
    assert "paired comparison of 8 images" in capsys.readouterr().out
    # a finished study is not overwritten unless asked
    assert cli(command) == 2
    assert "already holds fidelity.json; pass --overwrite" in capsys.readouterr().err


def test_fidelity_on_unpaired_images(deepart_folder, tmp_path):
    out = tmp_path / "unpaired"
    assert (
        cli(
            [
                "fidelity",
                "--dataset",
                str(deepart_folder),
                "--splits",
                "train",
                "--output_dir",
                str(out),
                "--bootstrap",
                "100",
                "--workers",
                "1",
            ]
        )
        == 0
    )
    result = json.loads((out / "fidelity.json").read_text())
    assert result["design"] == "unpaired" and (result["n_human"], result["n_ai"]) == (4, 4)
    assert all("wasserstein_sd" in entry for entry in result["comparisons"]["stored"].values())
    assert_png(out / "distributions.png")


def test_baselines_on_pixels_and_fidelity_features(deepart_folder, tmp_path, capsys):
    out = tmp_path / "baselines"
    assert (
        cli(
            [
                "baselines",
                "--dataset",
                str(deepart_folder),
                "--output_dir",
                str(out),
                "--pixels",
                "24",
                "--test_split",
                "validation",
                "--bootstrap",
                "50",
            ]
        )
        == 0
    )
    summary = json.loads((out / "baselines.json").read_text())
    assert summary["n_test"] == {"human": 4, "ai": 4} and len(summary["results"]) == 10
    for entry in summary["results"].values():
        folder = out / entry["folder"]
        metrics = json.loads((folder / "metrics.json").read_text())
        assert (
            metrics["n"] == 8
            and metrics["accuracy"]["low"] <= metrics["accuracy"]["value"] <= metrics["accuracy"]["high"]
        )
        lines = (folder / "predictions.csv").read_text().splitlines()
        assert lines[0] == "id,label,predicted,prob_ai,log_odds_ai" and len(lines) == 9
        assert_png(folder / "confusion_matrix.png")
        assert_png(folder / "roc_curve.png")
    table = (out / "report.md").read_text()
    assert "random_forest / fidelity" in table and "svm / pixels" in table and "AUROC %" in table
    assert "svm / pixels" in capsys.readouterr().out
    assert (
        cli(["baselines", "--dataset", str(deepart_folder), "--config", "pairs", "--output_dir", str(tmp_path / "x")])
        == 2
    )
    assert "leave out --config pairs" in capsys.readouterr().err


def test_baselines_refuse_a_pixel_matrix_above_the_memory_limit(deepart_folder, tmp_path, capsys):
    assert (
        cli(
            [
                "baselines",
                "--dataset",
                str(deepart_folder),
                "--output_dir",
                str(tmp_path / "big"),
                "--features",
                "pixels",
                "--pixels",
                "1024",
                "--max_memory_gb",
                "0.1",
            ]
        )
        == 2
    )
    assert "needs 0.1 GB (float32), above --max_memory_gb 0.1" in capsys.readouterr().err


def test_shots_are_drawn_by_whole_groups():
    labels = [0, 1] * 5
    groups = ["a", "a", "b", "b", "c", "c", "d", "d", "e", "e"]
    draws = set()
    for seed in range(6):
        rows = sample_shots(labels, groups, 2, seed)
        assert sorted(labels[r] for r in rows) == [0, 0, 1, 1]
        chosen = {groups[r] for r in rows}
        assert len(chosen) == 2 and rows == sorted(
            r for r in range(10) if groups[r] in chosen
        )  # a painting comes with its re-creation
        draws.add(tuple(rows))
    assert len(draws) > 1 and sample_shots(labels, groups, 2, 0) == sample_shots(labels, groups, 2, 0)
    # rows without a group are drawn one by one
    lone = [0, 0, 1, 1, 1]
    assert sorted(lone[r] for r in sample_shots(lone, [None] * 5, 1, 0)) == [0, 1]
    assert parse_shots("all,2,1,2") == ["1", "2", "all"]


def test_few_shot_curve_with_baselines(deepart_folder, tmp_path, capsys):
    out = tmp_path / "few-shot"
    assert (
        cli(
            [
                "few-shot",
                "--dataset",
                str(deepart_folder),
                "--model",
                "vit-test",
                "--shots",
                "1,2",
                "--seeds",
                "2",
                "--output_dir",
                str(out),
                "--pixels",
                "16",
                "--from_scratch",
                "--image_size",
                "32",
                "--num_train_epochs",
                "1",
                "--per_device_train_batch_size",
                "4",
                "--dataloader_num_workers",
                "0",
                "--max_eval_samples",
                "8",
                "--eval_strategy",
                "no",
                "--save_strategy",
                "no",
            ]
        )
        == 0
    )
    result = json.loads((out / "few_shot.json").read_text())
    assert result["shots"] == ["1", "2"] and len(result["runs"]) == 4 and result["n_test"] == 8
    assert [run["n_train"] for run in result["runs"]] == [2, 2, 4, 4]
    for run in result["runs"]:
        recorded = json.loads((out / "runs" / f"k{run['shots']}-seed{run['seed']}" / "metrics.json").read_text())
        assert recorded["test"]["n"] == 8 and recorded["test"]["accuracy"] == run["detector"]["accuracy"]
        assert set(run["baselines"]) == {"svm", "decision_tree", "random_forest", "knn", "logistic_regression"}
    mean, sd = result["detector"]["accuracy"][0]
    pair = [run["detector"]["accuracy"] for run in result["runs"] if run["shots"] == "1"]
    assert mean == pytest.approx(sum(pair) / 2) and sd >= 0
    assert_png(out / "few_shot.png")
    assert "vit-test acc. %" in (out / "report.md").read_text()
    # flags the study sets itself are refused in one line
    assert (
        cli(
            [
                "few-shot",
                "--dataset",
                str(deepart_folder),
                "--model",
                "vit-test",
                "--output_dir",
                str(tmp_path / "y"),
                "--seed",
                "3",
            ]
        )
        == 2
    )
    assert "remove --seed from the train.py flags" in capsys.readouterr().err


def test_few_shot_overwrite_deletes_nothing_it_did_not_write(tmp_path, capsys):
    out = tmp_path / "few-shot"
    (out / "runs" / "mine").mkdir(parents=True)
    (out / "runs" / "mine" / "notes.txt").write_text("not a run")
    (out / "data").mkdir()
    command = ["few-shot", "--dataset", str(tmp_path / "none"), "--model", "vit-test", "--output_dir", str(out)]
    assert cli([*command, "--overwrite"]) == 2
    assert "holds runs/ and data/ but no few_shot.json" in capsys.readouterr().err
    assert (out / "runs" / "mine" / "notes.txt").read_text() == "not a run" and (out / "data").is_dir()

    # a curve cut short: every folder in runs/ is a recorded training run, so --overwrite starts afresh
    (out / "runs" / "mine" / "run_args.json").write_text("{}")
    assert cli([*command, "--overwrite"]) == 2  # the dataset does not exist
    assert "none" in capsys.readouterr().err and not (out / "runs").exists() and not (out / "data").exists()
