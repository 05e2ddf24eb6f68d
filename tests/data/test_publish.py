"""publish(): a complete, atomic Hub repository folder from any DatasetDict."""

import importlib
import json
import shutil

import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, Image

import deepart_hf
from deepart_hf.constants import LABELS
from deepart_hf.data.loading import (
    load_splits as load_dataset,  # datasets' own would reuse a cache of another folder with the same name
)
from deepart_hf.errors import PublishError
from helpers import write_image

# The package exports the function publish(); the module of the same name is reached explicitly.
publish_module = importlib.import_module("deepart_hf.data.publish")


def path_backed_dataset(tmp_path) -> DatasetDict:
    """Images given as file paths: what Dataset.to_parquet alone would store as paths."""
    files = [str(write_image(tmp_path / "files" / f"{i}.png", seed=i)) for i in range(4)]
    features = Features({"image": Image(), "label": ClassLabel(names=LABELS)})
    ds = Dataset.from_dict({"image": files, "label": [0, 1, 0, 1]}, features=features)
    return DatasetDict({"train": ds.select([0, 1]), "test": ds.select([2, 3])})


def test_publish_embeds_image_bytes_so_the_folder_survives_a_move(tmp_path):
    result = deepart_hf.publish(path_backed_dataset(tmp_path), tmp_path / "repo")
    shutil.rmtree(tmp_path / "files")
    moved = shutil.move(result.path, tmp_path / "moved")
    loaded = load_dataset(str(moved))
    assert loaded["train"][0]["image"].size == (32, 32)
    assert loaded["test"]["label"] == [0, 1]


def test_existing_output_is_refused_then_replaced_with_overwrite_only_if_a_build_wrote_it(tmp_path):
    dataset = path_backed_dataset(tmp_path)
    out = tmp_path / "repo"
    (out / "sub").mkdir(parents=True)
    (out / "keep.txt").write_text("precious")
    (out / "sub" / "thesis.tex").write_text("chapter 1")
    with pytest.raises(PublishError, match="already exists; pass --overwrite"):
        deepart_hf.publish(dataset, out)
    with pytest.raises(PublishError, match=r"repo was not written by deepart-hf \(it holds no deepart-hf-build.json\)"):
        deepart_hf.publish(dataset, out, overwrite=True)
    assert (out / "keep.txt").read_text() == "precious" and (out / "sub" / "thesis.tex").read_text() == "chapter 1"

    built = tmp_path / "built"
    deepart_hf.publish(dataset, built)
    assert json.loads((built / "deepart-hf-build.json").read_text())["written_by"] == "deepart-hf"
    (built / "data" / "stale-00000-of-00001.parquet").write_bytes(b"")
    deepart_hf.publish(dataset, built, overwrite=True)
    assert not (built / "data" / "stale-00000-of-00001.parquet").exists() and (built / "README.md").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary leftovers


def test_a_crash_while_writing_leaves_nothing_behind(tmp_path, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(publish_module, "_write_shards", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        deepart_hf.publish(path_backed_dataset(tmp_path), tmp_path / "repo")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["files"]


def test_output_inside_the_source_is_refused(tmp_path):
    with pytest.raises(PublishError, match="overlaps the source folder"):
        publish_module.check_output_folder(tmp_path / "src" / "out", overwrite=True, source=tmp_path / "src")


def test_offline_push_fails_in_one_line_after_the_folder_is_complete(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PublishError) as error:
        deepart_hf.publish(path_backed_dataset(tmp_path), tmp_path / "repo", push_to_hub="someone/some-dataset")
    message = str(error.value)
    assert (
        "\n" not in message and "push to someone/some-dataset failed" in message and "local copy is complete" in message
    )
    assert len(load_dataset(str(tmp_path / "repo"))["train"]) == 2


def test_an_empty_split_is_left_out_so_the_rest_still_loads(tmp_path):
    dataset = path_backed_dataset(tmp_path)
    dataset["validation"] = dataset["train"].select([])
    out = deepart_hf.publish(dataset, tmp_path / "repo").path
    assert set(load_dataset(str(out))) == {"train", "test"}
    assert "| **total** | 2 | 2 | 0 |" in (out / "README.md").read_text()
