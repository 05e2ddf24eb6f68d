"""Each protocol's resolved hyperparameters, as train.py would run them, and explicit flags winning."""

import dataclasses
from pathlib import Path

import datasets.config
import pytest
from transformers import TrainingArguments

from deepart_hf.errors import DeepArtError
from deepart_hf.training.arguments import DataArguments, ModelArguments, RunArguments, parse_arguments
from deepart_hf.training.config import config_command, run_identity
from deepart_hf.training.protocols import PROTOCOLS


def resolved(*argv):
    return parse_arguments(list(argv))


def test_deepart_protocol_is_the_papers_recipe():
    args = resolved("--protocol", "deepart", "--dataset", "deepart", "--model", "resnet50")
    t = args.training
    assert (t.num_train_epochs, t.per_device_train_batch_size) == (20, 8)
    assert t.optim.value == "sgd" and t.optim_args == "momentum=0.9"
    assert t.weight_decay == 5e-4 and t.lr_scheduler_type.value == "cosine"
    assert (args.data.preprocess, args.data.image_size) == ("resize", 224)
    assert args.model.model == "resnet50"


def test_dalle_protocol_is_model_one_with_a_frozen_resnet18():
    args = resolved("--protocol", "dalle", "--dataset", "dalle")
    assert args.model.model == "resnet18" and args.model.freeze_backbone is True
    assert args.training.num_train_epochs == 10 and args.training.learning_rate == 1e-3
    assert args.training.per_device_train_batch_size == 10
    assert (args.run.step_lr_epochs, args.run.step_lr_gamma) == (7, 0.1)
    # model 3 of the seed: the same, then 12 epochs with every layer unfrozen
    assert resolved("--protocol", "dalle", "--dataset", "d", "--unfreeze_epochs", "12").model.unfreeze_epochs == 12


def test_genre_protocol():
    args = resolved("--protocol", "genre", "--dataset", "genres", "--dataset_config", "castle")
    t = args.training
    assert (t.optim.value, t.learning_rate, t.per_device_train_batch_size, t.num_train_epochs) == (
        "sgd",
        1e-3,
        100,
        300,
    )
    assert args.model.model == "resnet50" and args.data.dataset_config == "castle"


def test_explicit_flags_override_the_protocol_in_either_spelling():
    args = resolved(
        "--protocol",
        "deepart",
        "--dataset",
        "x",
        "--num_train_epochs",
        "3",
        "--image-size",
        "64",
        "--preprocess",
        "crop",
    )
    assert args.training.num_train_epochs == 3 and args.data.image_size == 64 and args.data.preprocess == "crop"
    assert args.training.per_device_train_batch_size == 8  # still the protocol's


def test_no_arguments_is_the_quick_run_on_the_synthetic_set():
    args = resolved()
    assert args.protocol_name == "quick" and args.synthetic and args.model.from_scratch is True
    # a cache: built once under the datasets cache, not in the working directory
    assert args.data.dataset == str(
        Path(datasets.config.HF_DATASETS_CACHE) / "deepart_hf-synthetic" / "synthetic-n200-s128-seed42"
    )
    assert args.training.output_dir.startswith("outputs/resnet10t-synthetic-n200-s128-seed42-crop-")
    assert args.training.remove_unused_columns is False  # transforms need the raw image column
    assert args.training.dataloader_pin_memory is False  # no GPU here: pinning would only warn


def test_without_a_protocol_a_named_dataset_keeps_trainer_defaults():
    args = resolved("--dataset", "x", "--model", "vit-base", "--output_dir", "o")
    assert args.protocol_name is None and args.training.output_dir == "o"
    assert args.model.from_scratch is False


def test_unknown_protocol_is_named():
    with pytest.raises(DeepArtError, match="unknown protocol 'paper'; known: quick, deepart, dalle, genre"):
        resolved("--protocol", "paper")


def test_grouping_images_by_length_is_refused_before_any_work():
    with pytest.raises(DeepArtError, match="--train_sampling_strategy group_by_length groups text by length"):
        resolved("--dataset", "x", "--train_sampling_strategy", "group_by_length")
    assert resolved("--dataset", "x", "--train_sampling_strategy", "sequential").training.train_sampling_strategy == (
        "sequential"
    )


@pytest.mark.parametrize(
    "spelling",
    [["--eval_only"], ["--eval-only"], ["--eval_only=true"], ["--eval_only", "true"], ["--eval-only", "True"]],
)
def test_eval_only_is_read_by_the_parser_in_every_spelling(spelling):
    args = resolved(*spelling, "--model_name_or_path", "some/run")
    assert args.run.eval_only is True
    assert args.protocol_name is None  # no training recipe is applied to an evaluation
    assert args.training.output_dir.startswith("outputs/eval-run-synthetic-")


def test_default_folders_differ_for_different_datasets_and_settings(tmp_path):
    (tmp_path / "x" / "deepart").mkdir(parents=True)
    (tmp_path / "y" / "deepart").mkdir(parents=True)
    folders = {
        resolved("--dataset", str(tmp_path / "x" / "deepart"), "--preprocess", "crop").training.output_dir,
        resolved("--dataset", str(tmp_path / "y" / "deepart"), "--preprocess", "crop").training.output_dir,
        resolved("--dataset", str(tmp_path / "y" / "deepart"), "--preprocess", "resize").training.output_dir,
        resolved(
            "--dataset", str(tmp_path / "y" / "deepart"), "--preprocess", "resize", "--learning_rate", "0.01"
        ).training.output_dir,
    }
    assert len(folders) == 4
    assert all(folder.startswith("outputs/resnet18-deepart-") for folder in folders)
    # the same command always names the same folder (so an interrupted run is found again)
    again = resolved("--dataset", str(tmp_path / "y" / "deepart"), "--preprocess", "resize").training.output_dir
    assert again in folders


def test_a_repeated_default_run_gets_a_new_folder_instead_of_overwriting(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = resolved().training.output_dir
    (tmp_path / first).mkdir(parents=True)
    assert resolved().training.output_dir == first  # unfinished: the same folder, to resume
    (tmp_path / first / "metrics.json").write_text("{}")
    assert resolved().training.output_dir == first + "-2"


def test_a_local_pretrained_checkpoint_is_part_of_the_run():
    plain = resolved("--dataset", "x", "--model", "resnet18")
    local = resolved("--dataset", "x", "--model", "resnet18", "--pretrained_weights", "weights/resnet18.pth")
    assert plain.model.pretrained_weights is None and local.model.pretrained_weights == "weights/resnet18.pth"
    assert local.training.output_dir != plain.training.output_dir  # other initial weights, another run


def test_a_linear_probe_recipe_freezes_its_backbone_unless_told_otherwise():
    assert resolved("--dataset", "x", "--model", "efficientnet-lite0-linear").model.freeze_backbone is True
    assert resolved("--dataset", "x", "--model", "efficientnet-lite0").model.freeze_backbone is False
    told = resolved("--dataset", "x", "--model", "efficientnet-lite0-linear", "--freeze_backbone", "false")
    assert told.model.freeze_backbone is False


def test_probe_stages_are_part_of_a_new_run_and_refused_for_a_trained_detector():
    multi = resolved("--dataset", "x", "--model", "efficientnet-lite0-linear", "--probe_stages", "3")
    plain = resolved("--dataset", "x", "--model", "efficientnet-lite0-linear")
    assert (multi.model.probe_stages, plain.model.probe_stages) == (3, 1)
    assert multi.training.output_dir != plain.training.output_dir  # another head, another run
    with pytest.raises(DeepArtError, match="a trained detector .* keeps its own: drop --probe_stages") as error:
        resolved("--dataset", "x", "--model_name_or_path", "runs/probe", "--probe_stages", "3")
    assert "\n" not in str(error.value)


def test_a_native_view_reads_crops_and_is_refused_for_a_trained_detector():
    two = resolved("--dataset", "x", "--model", "efficientnet-lite0-linear", "--probe_views", "resize,native")
    plain = resolved("--dataset", "x", "--model", "efficientnet-lite0-linear")
    assert (two.model.views, two.data.preprocess) == (("resize", "native"), "crop")
    assert (plain.model.views, plain.data.preprocess) == (("resize",), None)
    assert two.training.output_dir != plain.training.output_dir  # another head, another run
    with pytest.raises(DeepArtError, match="a trained detector .* keeps its own: drop --probe_views") as error:
        resolved("--dataset", "x", "--model_name_or_path", "runs/probe", "--probe_views", "native")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("protocol", PROTOCOLS.values(), ids=lambda protocol: protocol.name)
def test_each_protocol_sets_fields_of_its_groups(protocol):
    groups = {"model": ModelArguments, "data": DataArguments, "run": RunArguments, "training": TrainingArguments}
    for group, arguments in groups.items():
        names = {field.name for field in dataclasses.fields(arguments)}
        assert set(getattr(protocol, group)) <= names, (group, set(getattr(protocol, group)) - names)


def test_the_config_is_frozen_and_sub_runs_are_derived_from_it():
    config = resolved("--dataset", "x", "--output_dir", "o", "--learning_rate", "0.01")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.data.dataset = "y"
    sub = config.with_changes(data={"dataset": "y"}, training={"output_dir": "p", "seed": 3})
    assert (sub.data.dataset, sub.training.output_dir, sub.training.seed) == ("y", "p", 3)
    assert (config.data.dataset, config.training.output_dir, config.training.seed) == ("x", "o", 42)
    assert sub.training.learning_rate == 0.01


def test_the_recorded_command_builds_the_same_run():
    config = resolved("--protocol", "deepart", "--dataset", "x", "--output_dir", "o", "--num_train_epochs", "3")
    command = config_command(config).split()
    assert command[:2] == ["deepart-hf", "train"]
    again = parse_arguments(command[2:])
    for group in ("model", "data", "run"):
        mine, theirs = dataclasses.asdict(getattr(config, group)), dataclasses.asdict(getattr(again, group))
        mine.pop("protocol", None), theirs.pop("protocol", None)
        assert mine == theirs, group
    for name in ("num_train_epochs", "learning_rate", "optim", "optim_args", "per_device_train_batch_size"):
        assert getattr(again.training, name) == getattr(config.training, name), name


def test_several_sources_weigh_the_same_unless_told_otherwise():
    both = resolved("--dataset", "a", "--dataset", "b", "--output_dir", "o")
    concatenated = resolved("--dataset", "a,b", "--balance_sources", "false", "--output_dir", "o")
    assert both.data.balance_sources is True and concatenated.data.balance_sources is False
    # part of a run's identity (a run is resumed only with the same mixing) and of its recorded command
    assert run_identity(both)["data"]["balance_sources"] is True
    assert run_identity(concatenated)["data"]["balance_sources"] is False
    assert "--balance_sources false" in config_command(concatenated)
    assert "balance_sources" not in config_command(both)
    # one source has nothing to balance: runs recorded before the flag existed resume as they were
    assert "balance_sources" not in run_identity(resolved("--dataset", "a", "--output_dir", "o"))["data"]
    assert (
        resolved("--dataset", "a", "--dataset", "b").training.output_dir
        != resolved("--dataset", "a", "--dataset", "b", "--balance_sources", "false").training.output_dir
    )
