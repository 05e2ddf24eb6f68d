"""The run as deepart_hf.train runs it: the run folder it claims (which checkpoint an interrupted run resumes
from), the trainings refused before anything is written, what the console says about precision, the RunResult,
the record built from the config, and the one check of a finished run that reads it back."""

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, Image

import deepart_hf
import train
from deepart_hf.models import create_model
from deepart_hf.training.arguments import parse_arguments
from deepart_hf.training.run import check_checkpoint_matches, claim_output_dir, finished_run, training_precision
from helpers import FAST_TRAINING, image_bytes


@pytest.mark.parametrize("name", ["resnet10t", "vit-test"])
def test_a_checkpoint_matches_the_model_it_was_saved_from(name, tmp_path):
    # timm's pretrained_cfg holds tuples in memory and lists once saved as JSON: they are the same model
    model, _ = create_model(name, from_scratch=True, image_size=64)
    model.save_pretrained(tmp_path / "checkpoint-2")
    check_checkpoint_matches(str(tmp_path / "checkpoint-2"), model)


def test_a_checkpoint_of_another_input_size_is_still_refused(tmp_path):
    model, _ = create_model("resnet10t", from_scratch=True, image_size=64)
    model.save_pretrained(tmp_path / "checkpoint-2")
    other, _ = create_model("resnet10t", from_scratch=True, image_size=96)
    with pytest.raises(deepart_hf.DeepArtError, match="saved from another model .*pretrained_cfg"):
        check_checkpoint_matches(str(tmp_path / "checkpoint-2"), other)


def complete_checkpoint(folder):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": int(folder.name.split("-")[1])}))
    return folder


def test_a_checkpoint_cut_short_while_saving_is_removed_and_the_last_complete_one_resumed(tmp_path, caplog):
    out = tmp_path / "run"
    args = parse_arguments(["--dataset", str(tmp_path / "data"), "--output_dir", str(out)])
    assert claim_output_dir(args, {}, resumable=True) == {}  # a new run, recorded
    complete_checkpoint(out / "checkpoint-2")
    (out / "checkpoint-4").mkdir()  # killed before the Trainer wrote anything into it
    half = complete_checkpoint(out / "checkpoint-6")
    (half / "trainer_state.json").write_text('{"global_st')  # killed while writing its last file
    with caplog.at_level(logging.WARNING):
        resume = claim_output_dir(args, {}, resumable=True)
    assert resume == {"first": str(out / "checkpoint-2")}
    assert sorted(path.name for path in out.glob("checkpoint-*")) == ["checkpoint-2"]
    removed = [record.getMessage() for record in caplog.records]
    assert len(removed) == 2 and "checkpoint-6: unreadable trainer_state.json" in removed[0], removed
    assert "checkpoint-4: no config.json" in removed[1]


def test_incomplete_checkpoints_of_an_unrecorded_run_are_left_alone(tmp_path):
    out = tmp_path / "run"
    (out / "checkpoint-4").mkdir(parents=True)
    args = parse_arguments(["--dataset", str(tmp_path / "data"), "--output_dir", str(out)])
    with pytest.raises(deepart_hf.DeepArtError, match="checkpoints of an unrecorded run"):
        claim_output_dir(args, {}, resumable=True)
    assert (out / "checkpoint-4").is_dir()


def publish(folder, train_labels):
    features = Features({"image": Image(), "label": ClassLabel(names=["human", "ai"])})

    def split(labels, seed):
        images = [{"bytes": image_bytes("PNG", 32, seed + i), "path": f"{seed + i}.png"} for i in range(len(labels))]
        return Dataset.from_dict({"image": images, "label": labels}, features=features)

    deepart_hf.publish(
        DatasetDict({"train": split(train_labels, 0), "validation": split([0, 1], 100), "test": split([0, 1], 200)}),
        folder,
    )
    return folder


@pytest.mark.parametrize(
    "labels, flags, message",
    [
        ([0, 0, 0, 0], [], "the training split holds 4 images of one class only (human)"),
        ([1, 1, 1], [], "the training split holds 3 images of one class only (ai)"),
        ([0, 1, 0, 1], ["--num_train_epochs", "0"], "--num_train_epochs 0 trains nothing (no optimizer step)"),
    ],
)
def test_a_training_that_learns_nothing_is_refused_before_anything_is_written(labels, flags, message, tmp_path, capsys):
    data = publish(tmp_path / "data", labels)
    out = tmp_path / "run"
    argv = ["--dataset", data, "--model", "vit-test", "--from_scratch", "--image_size", "32", "--output_dir", out]
    assert train.main([str(a) for a in [*argv, *FAST_TRAINING, *flags]]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert errors == [f"error: {errors[0].removeprefix('error: ')}"] and message in errors[0], errors
    assert not out.exists()


def test_the_precision_of_training_is_said_in_words(monkeypatch):
    import deepart_hf.training.run as run_module

    args = parse_arguments(["--dataset", "d", "--output_dir", "o", "--bf16", "false", "--use_cpu", "true"])
    monkeypatch.setattr(run_module, "cpu_bf16_supported", lambda: False)
    assert training_precision(args.training) == "fp32 (this CPU has no native bf16)"
    monkeypatch.setattr(run_module, "cpu_bf16_supported", lambda: True)
    assert training_precision(args.training) == "fp32"
    args = parse_arguments(["--dataset", "d", "--output_dir", "o", "--bf16", "true", "--use_cpu", "true"])
    assert training_precision(args.training) == "bf16 autocast (calibration and predictions in fp32)"


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
    with pytest.raises(deepart_hf.DeepArtError, match=r"other arguments \(--learning_rate 5e-05 -> 0.01\)"):
        finished_run(config.with_changes(training={"learning_rate": 0.01}))
    assert finished_run(config.with_changes(training={"output_dir": str(config.output_dir) + "-new"})) is None


def test_a_finished_run_is_not_trained_again_by_train(trained):
    config, _ = trained
    with pytest.raises(deepart_hf.DeepArtError, match="holds a finished run; pass --overwrite_output_dir"):
        deepart_hf.train(config)


def test_the_run_stores_its_familiarity_the_card_explains_it_and_the_push_uploads_it(trained, monkeypatch):
    from huggingface_hub.utils import filter_repo_objects

    from deepart_hf.data.loading import load_splits
    from deepart_hf.models.familiarity import FAMILIARITY_FILE, Familiarity
    from deepart_hf.training.report import push_run

    config, result = trained
    familiarity = Familiarity.load(result.output_dir)
    splits = load_splits(str(config.datasets[0][0]))
    # --max_eval_samples 8 takes 8 of the shuffled validation split
    train_images = [*splits["train"], *splits["validation"].shuffle(seed=0).select(range(8))]
    assert familiarity.size == len(train_images) and familiarity.labels.tolist() == [x["label"] for x in train_images]
    # the features the saved model's head reads for those images at test time, in the same order
    detector = deepart_hf.load_detector(result.output_dir)
    features = detector.features([x["image"] for x in train_images])
    expected = features / np.linalg.norm(features, axis=1, keepdims=True)
    np.testing.assert_allclose(familiarity.features, expected, atol=1e-5)
    # a stored image counts itself among its neighbours: it lies no farther than its leave-one-out distance
    predictions = detector.predict([x["image"] for x in train_images])
    distances = np.sort([p.distance for p in predictions])
    assert np.all(distances <= familiarity.reference_distances + 1e-6) and distances[0] < distances[-1]
    assert np.mean([p.familiar for p in predictions]) >= np.mean(familiarity.familiar(familiarity.reference_distances))

    card = (result.output_dir / "README.md").read_text()
    assert "## Familiarity: is an image like the training images?" in card
    assert f"of {familiarity.size} training and validation images" in card
    assert f"Beyond **{familiarity.threshold:.4f}**, the 95th percentile" in card

    uploaded = {}

    class Api:
        def __init__(self, token=None):
            pass

        def create_repo(self, *args, **kwargs):
            pass

        def upload_folder(self, folder_path, ignore_patterns=None, **kwargs):
            files = [str(p.relative_to(folder_path)) for p in Path(folder_path).rglob("*") if p.is_file()]
            uploaded["files"] = set(filter_repo_objects(files, ignore_patterns=ignore_patterns))

    monkeypatch.setattr("deepart_hf.hub.HfApi", Api)
    push_run(config, str(result.output_dir))
    assert {FAMILIARITY_FILE, "config.json", "model.safetensors", "README.md"} <= uploaded["files"]


def test_the_cards_transformers_code_gives_the_detectors_distance(trained, monkeypatch):
    from helpers import DEEPART_SAMPLE, card_familiarity_distances

    _, result = trained
    image = DEEPART_SAMPLE / "Aigc" / "Gushici-3.jpg"
    distances, familiar = card_familiarity_distances(result.output_dir, image, monkeypatch)
    expected = deepart_hf.load_detector(result.output_dir).predict([image])[0]
    assert distances == pytest.approx([expected.distance], abs=1e-5) and familiar == [expected.familiar]
