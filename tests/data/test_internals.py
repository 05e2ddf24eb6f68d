"""The private parts of the libraries the package reads where no public API gives the same: each checked
against the installed version here, so an upgrade that moves one fails by name, and each library capped below
its next major version in pyproject.toml."""

import inspect
import re

import pytest
from datasets import Dataset
from transformers import AutoConfig, Trainer
from transformers.configuration_utils import SubConfigSpec

from deepart_hf.data.internals import estimated_nbytes, is_selection, split_fingerprint
from helpers import REPO, image_bytes


def images(n: int) -> Dataset:
    return Dataset.from_dict({"image": [image_bytes("PNG", 32, seed) for seed in range(n)], "label": [0, 1] * (n // 2)})


def test_the_fingerprint_follows_the_data_and_every_transform():
    data = images(4)
    assert split_fingerprint(data) == split_fingerprint(images(4))  # the same data, the same fingerprint
    assert split_fingerprint(data) != split_fingerprint(images(6))
    changed = {
        split_fingerprint(data.select([0, 1])),
        split_fingerprint(data.shuffle(seed=0)),
        split_fingerprint(data.map(lambda r: r)),
    }
    assert len(changed | {split_fingerprint(data)}) == 4
    assert re.fullmatch(r"[0-9a-f]{16}", split_fingerprint(data))


def test_a_selection_is_told_apart_from_its_flattened_table():
    data = images(4)
    assert not is_selection(data)
    chosen = data.select([3, 1])
    assert is_selection(chosen) and not is_selection(chosen.flatten_indices())


def test_the_estimated_size_counts_the_images_bytes():
    data = images(8)
    stored = sum(len(value) for value in data["image"])
    assert stored <= estimated_nbytes(data) <= stored + 8 * 64  # the bytes, plus the labels and offsets


def test_the_trainer_hook_that_turns_a_failed_save_into_one_line_is_still_there():
    # DetectorTrainer._save_checkpoint wraps the Trainer's: no public hook sees a checkpoint's save fail
    assert list(inspect.signature(Trainer._save_checkpoint).parameters) == ["self", "model", "trial"]


def test_the_trainer_hooks_that_save_and_load_a_probes_head_alone_are_still_there():
    # FeatureProbeTrainer writes a checkpoint's weights in _save and reads them back in _load_from_checkpoint
    assert list(inspect.signature(Trainer._save).parameters) == ["self", "output_dir", "state_dict"]
    assert list(inspect.signature(Trainer._load_from_checkpoint).parameters) == [
        "self",
        "resume_from_checkpoint",
        "model",
    ]
    assert list(inspect.signature(Trainer._issue_warnings_after_load).parameters) == ["self", "load_result"]


def test_the_trainer_hooks_that_seed_each_training_example_are_still_there():
    # DetectorTrainer builds its training loader with the Trainer's own over SeededExamples, and sets the epoch of
    # its EpochIndices where the Trainer starts an epoch (accelerate's set_epoch misses it in DDP on resume)
    assert list(inspect.signature(Trainer._get_dataloader).parameters)[:6] == [
        "self",
        "dataset",
        "description",
        "batch_size",
        "sampler_fn",
        "is_training",
    ]
    assert list(inspect.signature(Trainer._run_epoch).parameters)[:3] == ["self", "model", "epoch"]


def test_a_sub_config_of_any_model_type_defaults_to_vit():
    # CropDetectorConfig's detector_config: only SubConfigSpec gives AutoConfig a default model type
    from deepart_hf.models.crop_detector import CropDetectorConfig

    spec = CropDetectorConfig.sub_configs_defaults["detector_config"]
    assert isinstance(spec, SubConfigSpec) and spec.config_class is AutoConfig
    assert CropDetectorConfig(detector_config={"model_type": "resnet"}).detector_config.model_type == "resnet"


def test_libraries_read_in_private_are_capped_below_their_next_major_version():
    tomllib = pytest.importorskip("tomllib")
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    caps = {re.match(r"[\w-]+", d)[0]: d for d in dependencies}
    assert caps["datasets"].endswith(",<6") and caps["transformers"].endswith(",<6")
    assert re.search(r",<=?2\.", caps["torch"])  # torch.cpu.get_capabilities: public, but torch stays in 2.x
