"""The other layouts (Dall.E/Paintings, genres, a user's folders) and bad input, on generated fixtures."""

import json

import pytest

import deepart_hf
from deepart_hf.errors import SourceError
from helpers import copy_deepart_subset, write_image


def make_dalle(root, splits=("train", "val", "test"), per_class=4):
    for split in splits:
        for class_name in ("artificial", "human"):
            for i in range(per_class):
                write_image(root / split / class_name / f"{class_name}_{i}.jpg", "JPEG")
    return root


def test_dalle_paintings_keeps_upstream_splits(tmp_path):
    dataset = deepart_hf.build_dataset("dalle_paintings", make_dalle(tmp_path / "dalle"))
    assert {s: len(d) for s, d in dataset.items()} == {"train": 8, "validation": 8, "test": 8}
    validation = dataset["validation"].remove_columns("image")
    assert all(row["image_id"].startswith("val/") for row in validation)
    artificial = [row for row in validation if "/artificial/" in row["image_id"]]
    assert {row["label"] for row in artificial} == {1}  # artificial -> ai
    assert artificial[0]["source"].startswith("DALL·E")


def test_dalle_paintings_without_split_folders_is_split_by_ratio(tmp_path):
    root = tmp_path / "flat"
    for class_name in ("artificial", "human"):
        for i in range(10):
            write_image(root / class_name / f"{i}.jpg", "JPEG")
    dataset = deepart_hf.build_dataset("dalle_paintings", root, split_ratio="8:1:1")
    assert {s: len(d) for s, d in dataset.items()} == {"train": 16, "validation": 2, "test": 2}


def test_genres_have_a_mixed_config_and_one_per_genre(tmp_path):
    root = tmp_path / "genres"
    for genre in ("avatar", "castle", "sports car"):
        for class_name in ("ai", "human"):
            for i in range(5):
                write_image(root / genre / class_name / f"{i}.png")
    result = deepart_hf.build("genres", root, split_ratio="3:1:1")
    assert list(result.configs) == ["mixed", "avatar", "castle", "sports_car"]
    mixed = result.configs["mixed"]
    assert sum(len(d) for d in mixed.values()) == 30
    assert set(mixed["train"]["genre"]) == {"avatar", "castle", "sports_car"}
    castle = result.configs["castle"]
    assert set(castle["test"]["image_id"]) == {
        i for i, g in zip(mixed["test"]["image_id"], mixed["test"]["genre"]) if g == "castle"
    }
    # stratified by label and genre: each genre's train split has 3 of each class
    assert sorted(castle["train"]["label"]) == [0, 0, 0, 1, 1, 1]


def test_genres_publish_mixed_as_the_default_config(tmp_path):
    root = tmp_path / "genres"
    for class_name in ("ai", "human"):
        for i in range(3):
            write_image(root / "castle" / class_name / f"{i}.png")
    out = deepart_hf.publish(deepart_hf.build("genres", root, split_ratio="1:1:1"), tmp_path / "out").path
    card = (out / "README.md").read_text()
    assert "config_name: mixed" in card and "default: true" in card and "path: castle/train-*" in card
    from deepart_hf.data.loading import (
        load_splits as load_dataset,  # datasets' own would reuse a cache of another folder with the same name
    )

    assert set(load_dataset(str(out))["train"]["genre"]) == {"castle"}


def test_own_folders_with_a_label_map(tmp_path):
    root = tmp_path / "mine"
    for folder in ("real", "fake"):
        for i in range(4):
            write_image(root / folder / "nested" / f"{i}.webp", "WEBP")
    dataset = deepart_hf.build_dataset("folder", root, label_map={"real": "human", "fake": "ai"}, split_ratio="1:1:2")
    rows = [r for d in dataset.values() for r in d.remove_columns("image")]
    assert {(r["image_id"].split("/")[0], r["label"]) for r in rows} == {("real", 0), ("fake", 1)}
    assert {r["file_format"] for r in rows} == {"WEBP"}


def test_own_folders_with_unknown_names_suggest_a_label_map(tmp_path):
    write_image(tmp_path / "mine" / "real" / "0.png")
    with pytest.raises(SourceError, match=r"folder\(s\) real are not a label .*--label_map real=human,fake=ai"):
        deepart_hf.build("folder", tmp_path / "mine")


def test_bad_files_are_skipped_and_listed_unless_strict(tmp_path):
    root = tmp_path / "mine"
    for i in range(4):
        write_image(root / "human" / f"{i}.png")
        write_image(root / "ai" / f"{i}.jpg", "JPEG")
    (root / "human" / "notes.txt").write_text("not an image")
    good = (root / "ai" / "0.jpg").read_bytes()
    (root / "ai" / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (root / "ai" / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 50)
    (root / "ai" / "empty.png").write_bytes(b"")
    (root / "stray.png").write_bytes(good)

    result = deepart_hf.build("folder", root, split_ratio="1:1:2")
    skipped = {s.path: s.reason for s in result.report.skipped}
    assert set(skipped) == {"human/notes.txt", "ai/truncated.jpg", "ai/garbage.png", "ai/empty.png", "stray.png"}
    assert "not an image file" in skipped["human/notes.txt"]
    assert "truncated" in skipped["ai/truncated.jpg"] or "corrupt" in skipped["ai/truncated.jpg"]
    assert skipped["ai/empty.png"] == "empty file"
    assert sum(len(d) for d in result.dataset.values()) == 8
    out = deepart_hf.publish(result, tmp_path / "out").path
    assert json.loads((out / "build_report.json").read_text())["skipped_count"] == 5
    assert "5 file(s) skipped" in (out / "README.md").read_text()

    with pytest.raises(SourceError, match=r"--strict: 4 bad file\(s\)"):
        deepart_hf.build("folder", root, strict=True)


@pytest.mark.parametrize(
    "layout, message",
    [
        ("missing", "source folder not found"),
        ("file", "is not a folder"),
        ("no_aigc", "no Aigc/ inside"),
        ("empty_human", "Human is empty"),
        ("only_junk", "no readable images"),
    ],
)
def test_unusable_deepart_sources_are_named(tmp_path, layout, message):
    root = tmp_path / "deepart"
    if layout == "file":
        root.write_text("x")
    elif layout == "no_aigc":
        write_image(root / "Human" / "Gushici-0.PNG")
    elif layout == "empty_human":
        (root / "Human").mkdir(parents=True)
        write_image(root / "Aigc" / "Gushici-0.jpg", "JPEG")
    elif layout == "only_junk":
        (root / "Human").mkdir(parents=True)
        (root / "Aigc").mkdir()
        (root / "Human" / "a.PNG").write_bytes(b"nope")
        (root / "Aigc" / "a.jpg").write_bytes(b"nope")
    with pytest.raises(SourceError, match=message):
        deepart_hf.build("deepart", root)


def test_two_human_files_for_one_painting_are_refused(deepart_sample, tmp_path):
    root = copy_deepart_subset(deepart_sample, tmp_path / "raw", ["Gushici-0"])
    write_image(root / "Human" / "Gushici-0.jpg", "JPEG")
    with pytest.raises(SourceError, match="two images for painting 'Gushici-0'"):
        deepart_hf.build("deepart", root)


def test_unknown_dataset_name_lists_the_known_ones():
    with pytest.raises(deepart_hf.DeepArtError, match="unknown dataset 'nope'; known: .*deepart"):
        deepart_hf.build("nope")
