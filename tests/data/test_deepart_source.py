"""DeepArt end to end on the real 40-pair sample: build, publish, move, reload."""

import json
import shutil

import datasets
import pytest
from datasets import ClassLabel

import deepart_hf
from deepart_hf.constants import LABELS
from helpers import copy_deepart_subset


@pytest.fixture(scope="module")
def sample_build(deepart_sample):
    return deepart_hf.build("deepart", deepart_sample)


def test_every_image_becomes_a_typed_row(sample_build):
    dataset = sample_build.dataset
    assert sum(len(s) for s in dataset.values()) == 80
    features = dataset["train"].features
    assert isinstance(features["label"], ClassLabel) and features["label"].names == LABELS
    rows = [row for split in dataset.values() for row in split.remove_columns("image")]
    by_id = {row["image_id"]: row for row in rows}
    assert by_id["Human/Gushici-0.PNG"]["file_format"] == "PNG"
    assert by_id["Human/Gushici-7.jpg"]["file_format"] == "JPEG"  # the one human JPEG keeps its format
    assert {row["file_format"] for row in rows if row["label"] == LABELS.index("ai")} == {"JPEG"}
    assert {(row["width"], row["height"]) for row in rows} == {(1024, 1024)}
    assert {row["book"] for row in rows} == {"Gushici", "Gushiwen"}
    assert by_id["Aigc/Gushici-0.jpg"]["source"] == "GPT-4 (DALL·E 3)"
    # no metadata given: poem fields are null, never invented
    assert all(row["poem_text"] is None and row["poem_title"] is None for row in rows)


def test_split_is_one_to_one_to_eight_and_grouped_by_painting(sample_build):
    counts = sample_build.label_counts()
    assert counts == {
        "train": {"human": 4, "ai": 4},
        "validation": {"human": 4, "ai": 4},
        "test": {"human": 32, "ai": 32},
    }
    split_of = {}
    for split, ds in sample_build.dataset.items():
        for painting_id in ds["painting_id"]:
            assert split_of.setdefault(painting_id, split) == split


def test_pairs_view_matches_the_image_view(sample_build):
    pairs = sample_build.configs["pairs"]
    for split in ("train", "validation", "test"):
        assert sorted(pairs[split]["painting_id"]) == sorted(set(sample_build.dataset[split]["painting_id"]))
    row = pairs["train"][0]
    assert row["human_image"].size == (1024, 1024) and row["ai_image"].size == (1024, 1024)
    assert row["ai_file_format"] == "JPEG"


def test_published_folder_loads_after_the_source_is_deleted_and_it_is_moved(deepart_sample, tmp_path):
    source = copy_deepart_subset(
        deepart_sample, tmp_path / "raw", [f"Gushici-{i}" for i in range(6)] + ["Gushiwen-0", "Gushiwen-1"]
    )
    original = (source / "Human" / "Gushici-3.PNG").read_bytes()
    result = deepart_hf.build("deepart", source, split_ratio="2:1:1", seed=3)
    deepart_hf.publish(result, tmp_path / "built" / "deepart")
    shutil.rmtree(source)
    moved = shutil.move(tmp_path / "built" / "deepart", tmp_path / "elsewhere")

    images = datasets.load_dataset(str(moved))  # plain load_dataset, no code of ours
    assert {s: len(d) for s, d in images.items()} == {"train": 8, "validation": 4, "test": 4}
    loaded = images.cast_column("image", images["train"].features["image"].__class__(decode=False))
    stored = {row["image_id"]: row["image"]["bytes"] for split in loaded.values() for row in split}
    assert stored["Human/Gushici-3.PNG"] == original  # the original bytes, byte for byte
    pairs = datasets.load_dataset(str(moved), "pairs")
    assert sum(len(d) for d in pairs.values()) == 8
    assert pairs["train"].features["human_image"].__class__.__name__ == "Image"


def test_card_declares_configs_features_and_counts(sample_build, tmp_path):
    out = deepart_hf.publish(sample_build, tmp_path / "deepart").path
    card = (out / "README.md").read_text(encoding="utf-8")
    for expected in (
        "config_name: default",
        "config_name: pairs",
        "path: data/train-*",
        "path: pairs/test-*",
        "class_label:",
        "'1': ai",
        "license: other",
        "- image-classification",
        "pretty_name:",
        "DeepArt: A Benchmark to Advance Fidelity Research in AI-Generated Content",
        "| human | 4 | 4 | 32 |",
        "1:1:8 (seed 42), grouped by `painting_id`",
    ):
        assert expected in card, expected
    report = json.loads((out / "build_report.json").read_text())
    # The sample's README.md lies outside Human/ and Aigc/: not read, but listed, like every file not published.
    assert report["skipped"] == [{"path": "README.md", "reason": "not part of the layout: not read"}]
    assert report["unpaired_count"] == 0 and report["duplicate_groups_count"] == 0 and report["leaks_moved_count"] == 0


def test_an_unpaired_image_is_kept_listed_and_left_out_of_pairs(deepart_sample, tmp_path):
    source = copy_deepart_subset(deepart_sample, tmp_path / "raw", ["Gushici-0", "Gushici-1", "Gushici-2"])
    (source / "Aigc" / "Gushici-2.jpg").unlink()
    result = deepart_hf.build("deepart", source, split_ratio="1:0:1")
    assert result.report.unpaired == ["Human/Gushici-2.PNG"]
    assert sum(len(d) for d in result.dataset.values()) == 5
    assert sorted(p for d in result.configs["pairs"].values() for p in d["painting_id"]) == ["Gushici-0", "Gushici-1"]
