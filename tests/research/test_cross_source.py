"""A general detector: cross-eval --leave_one_out measures the recipe on each source it did not see, and the model
trained on every source carries those figures in its card."""

import json

import pytest

import deepart_hf
import train
from deepart_hf.cli import main as cli
from deepart_hf.evaluation.suite import interval_cell
from helpers import FAST_TRAINING

TINY = [*FAST_TRAINING, "--save_total_limit", "1", "--max_eval_samples", "1000", "--model", "vit-test"]
TINY += ["--from_scratch", "--image_size", "32"]


@pytest.fixture(scope="module")
def sources(deepart_folder, genres_sample, tmp_path_factory):
    """Three sources: the DeepArt sample, the genre-study sample in its own layout, and a small synthetic set."""
    data = tmp_path_factory.mktemp("data")
    deepart_hf.publish(deepart_hf.build("genres", genres_sample, validation_share=0.3), data / "genres")
    deepart_hf.publish(deepart_hf.build("synthetic", n_per_class=20, image_size=48, seed=3), data / "synthetic")
    return [str(deepart_folder), str(data / "genres"), str(data / "synthetic")]


def test_the_all_sources_model_card_shows_the_leave_one_out_figures(sources, tmp_path, capsys):
    cross = tmp_path / "cross"
    assert cli(["cross-eval", "--dataset", ",".join(sources), "--leave_one_out", "--output_dir", str(cross)]
               + ["--n_resamples", "20", *TINY]) == 0  # fmt: skip
    assert "--cross_source_report" in capsys.readouterr().out  # the next step is printed
    report = json.loads((cross / "cross_source.json").read_text())
    loo = report["leave_one_out"]
    assert list(loo) == ["deepart", "genres", "synthetic"]
    assert loo["genres"]["trained_on"] == ["deepart", "synthetic"]
    # each entry is the all-but-one model's cell on the source it left out
    assert loo["genres"]["metrics"] == report["cells"]["all-but-genres"]["genres"]
    # every pair's familiarity, against the trained model's own test split (of several sources for all-but-one)
    familiarity = report["familiarity"]
    assert familiarity["deepart"]["deepart"]["own_test_split"] and familiarity["deepart"]["deepart"]["auroc"] is None
    assert familiarity["all-but-genres"]["deepart"]["own_test_split"]
    other = familiarity["deepart"]["genres"]
    assert not other["own_test_split"] and 0.0 <= other["auroc"]["value"] <= 1.0
    assert other["n"] == report["cells"]["deepart"]["genres"]["n"] and other["reference"]["kind"] == "test split"
    assert "### Familiarity: familiarity AUROC" in (cross / "cross_source.md").read_text()

    run = tmp_path / "general"
    argv = ["--dataset", ",".join(sources), *TINY, "--output_dir", str(run)]
    assert train.main([*argv, "--cross_source_report", str(cross / "cross_source.json")]) == 0
    card = (run / "README.md").read_text()
    section = card[card.index("## On a source it has not seen: leave one source out") :]
    for held_out, entry in loo.items():
        metrics = entry["metrics"]
        row = next(line for line in section.splitlines() if line.startswith(f"| {held_out} |"))
        assert f"| {' + '.join(entry['trained_on'])} |" in row
        assert f"| {metrics['n']} ({metrics['n_human']}/{metrics['n_ai']}) |" in row
        assert interval_cell(metrics["mean_accuracy"]) in row and interval_cell(metrics["auroc"]) in row


def test_a_report_of_other_datasets_stops_the_run_before_training(sources, tmp_path, capsys):
    report = tmp_path / "cross_source.json"
    report.write_text(json.dumps({"leave_one_out": {"x": {}}, "locations": {"a": "/elsewhere/a", "b": "/b"}}))
    run = tmp_path / "run"
    argv = ["--dataset", ",".join(sources[:2]), *TINY, "--output_dir", str(run)]
    assert train.main([*argv, "--cross_source_report", str(report)]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "was measured on /b, /elsewhere/a, not on this run's datasets" in error
    assert not (run / "metrics.json").exists() and not any(run.glob("checkpoint-*"))
    report.write_text(json.dumps({"sources": ["a"], "cells": {}}))
    assert train.main([*argv, "--cross_source_report", str(report)]) == 2
    assert "has no leave-one-source-out figures" in capsys.readouterr().err


def cell(value: float, n: int = 20) -> dict:
    return {"value": value, "low": max(0.0, value - 0.1), "high": min(1.0, value + 0.1)}


def familiarity_cell(share: float, auroc: float | None, n: int = 20) -> dict:
    return {
        "n": n,
        "unfamiliar": cell(share),
        "coverage": cell(1 - share),
        "all": {"mean_accuracy": cell(0.6)},
        "familiar": {"mean_accuracy": cell(0.9)},
        "auroc": None if auroc is None else cell(auroc),
        "own_test_split": auroc is None,
    }


def test_the_matrix_shows_the_familiarity_of_each_pair(tmp_path):
    from deepart_hf.research.cross_source import cross_source_markdown, heatmap_panels, plot_cross_source

    metrics = {"mean_accuracy": cell(0.6), "auroc": cell(0.7)}
    report = {
        "sources": ["a", "b"],
        "trained_on": ["a", "b"],
        "cells": {t: dict.fromkeys("ab", metrics) for t in "ab"},
        "familiarity": {
            "a": {"a": familiarity_cell(0.05, None), "b": familiarity_cell(0.85, 0.97)},
            "b": {"a": {"note": "This detector carries no familiarity data"}, "b": {"note": "This detector carries no familiarity data"}},
        },
    }  # fmt: skip
    markdown = cross_source_markdown(report)
    assert "Familiarity, trained on b: This detector carries no familiarity data" in markdown
    flagged = markdown[markdown.index("### Familiarity: share of images flagged unfamiliar") :].splitlines()[4]
    assert flagged == "| trained on a | 5.0 [0.0, 15.0] | 85.0 [75.0, 95.0] |"
    auroc = markdown[markdown.index("### Familiarity: familiarity AUROC") :].splitlines()[4]
    assert auroc == "| trained on a | own test split | 97.0 [87.0, 100.0] |"
    assert "90.0 [80.0, 100.0] (95% covered)" in markdown  # selective accuracy with its coverage
    panels = heatmap_panels(report)
    assert [title for title, _, _ in panels][2:] == ["share flagged unfamiliar", "familiarity AUROC"]
    assert panels[3][2]("a", "b")[0] == 0.97 and panels[3][2]("a", "a")[1] == "own test\nsplit"
    assert plot_cross_source(report, tmp_path / "cross_source.png").stat().st_size > 10_000
    # a matrix measured before familiarity existed keeps its two heat maps and tables
    del report["familiarity"]
    assert len(heatmap_panels(report)) == 2 and "Familiarity" not in cross_source_markdown(report)
