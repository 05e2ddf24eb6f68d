"""deepart_hf.train(config) from Python: a RunResult, the run record built from the config, sub-runs derived with
with_changes, and one check of a finished run that reads it back."""

import json

import pytest

import deepart_hf
from deepart_hf.errors import DeepArtError
from deepart_hf.training.run import finished_run
from helpers import FAST_TRAINING


@pytest.fixture(scope="module")
def trained(deepart_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "api"
    flags = ["--dataset", str(deepart_folder), "--model", "vit-test", "--from_scratch", "--image_size", "32"]
    config = deepart_hf.parse_train_arguments([*flags, "--output_dir", str(out), *FAST_TRAINING])
    return config, deepart_hf.train(config)


def test_train_returns_the_run_and_records_the_config(trained):
    config, result = trained
    summary = json.loads((result.output_dir / "metrics.json").read_text())
    assert result.output_dir == config.output_dir and not result.reused
    assert result.metrics == summary["test"] and result.metrics["n"] == 8
    assert result.task.kind == "detection" and list(result.task.classes) == ["human", "ai"]
    assert {"metrics.json", "predictions.csv", "evaluation.json"} <= set(result.files)
    assert all((result.output_dir / name).is_file() for name in result.files)
    # the record is the config's, not the command line of whatever process ran it
    record = json.loads((result.output_dir / "run_args.json").read_text())
    assert record["arguments"]["command"].startswith("deepart-hf train --model vit-test --from_scratch true")
    assert summary["command"] == record["arguments"]["command"]


def test_a_finished_run_of_the_same_config_is_read_back(trained):
    config, result = trained
    again = finished_run(config)
    assert again.reused and again.metrics == result.metrics and again.task == result.task
    # another config for the same folder is refused, naming the first difference
    with pytest.raises(DeepArtError, match=r"other arguments \(--learning_rate 5e-05 -> 0.01\)"):
        finished_run(config.with_changes(training={"learning_rate": 0.01}))
    assert finished_run(config.with_changes(training={"output_dir": str(config.output_dir) + "-new"})) is None


def test_a_finished_run_is_not_trained_again_by_train(trained):
    config, _ = trained
    with pytest.raises(DeepArtError, match="holds a finished run; pass --overwrite_output_dir"):
        deepart_hf.train(config)
