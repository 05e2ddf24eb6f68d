"""Trees users really have: links (loops, into the tree, out of it), hard links, and zips with odd member names.

Every file is read once under one label, and whatever is left out is named with its reason."""

import os
import zipfile

import pytest
from PIL import Image

import deepart_hf
from deepart_hf.data.tree import SourceTree
from helpers import copy_deepart_subset, image_bytes, write_image


def labelled_folder(root, n=3):
    for label in ("human", "ai"):
        for i in range(n):
            write_image(root / label / f"{label}_{i}.png")
    return root


def rows_by_id(result) -> dict[str, int]:
    return {row["image_id"]: row["label"] for split in result.dataset.values() for row in split.remove_columns("image")}


def skipped(result) -> dict[str, str]:
    return {s.path: s.reason for s in result.report.skipped}


def test_a_link_back_up_the_tree_is_skipped_by_name_and_no_image_changes_label(tmp_path):
    root = labelled_folder(tmp_path / "mine")
    os.symlink("..", root / "human" / "loop")
    result = deepart_hf.build("folder", root, split_ratio="1:0:1")
    assert rows_by_id(result) == {
        **{f"human/human_{i}.png": 0 for i in range(3)},
        **{f"ai/ai_{i}.png": 1 for i in range(3)},
    }
    assert "link loop" in skipped(result)["human/loop"]


def test_a_link_to_another_label_folder_is_not_read_a_second_time_under_this_label(tmp_path):
    root = labelled_folder(tmp_path / "mine")
    os.symlink("../ai", root / "human" / "also_ai")
    result = deepart_hf.build("folder", root, split_ratio="1:0:1")
    assert sorted(rows_by_id(result).items()) == sorted(
        {**{f"human/human_{i}.png": 0 for i in range(3)}, **{f"ai/ai_{i}.png": 1 for i in range(3)}}.items()
    )
    assert "inside the source" in skipped(result)["human/also_ai"]


def test_a_deepart_folder_with_a_loop_builds_the_same_pairs(deepart_sample, tmp_path):
    source = copy_deepart_subset(deepart_sample, tmp_path / "deepart", [f"Gushici-{i}" for i in range(3)])
    clean = deepart_hf.build("deepart", source, split_ratio="1:0:2")
    os.symlink("..", source / "Human" / "loop")
    looped = deepart_hf.build("deepart", source, split_ratio="1:0:2")
    for split in clean.dataset:
        assert looped.dataset[split]["image_id"] == clean.dataset[split]["image_id"]
    assert "link loop" in skipped(looped)["Human/loop"]


def test_a_link_out_of_the_tree_is_followed_once_and_noted(tmp_path):
    root = labelled_folder(tmp_path / "mine", n=1)
    photos = tmp_path / "Pictures"
    for i in range(2):
        write_image(photos / f"p{i}.png")
    os.symlink(photos, root / "human" / "library")
    os.symlink(photos, root / "human" / "library_again")
    os.symlink(photos.parent, photos / "up")  # a loop outside the source, met through the link
    result = deepart_hf.build("folder", root, split_ratio="1:0:1")
    assert rows_by_id(result) == {
        "human/human_0.png": 0,
        "human/library/p0.png": 0,
        "human/library/p1.png": 0,
        "ai/ai_0.png": 1,
    }
    assert "already read as human/library" in skipped(result)["human/library_again"]
    assert "link loop" in skipped(result)["human/library/up"]
    assert any("human/library" in note and "outside the source" in note for note in result.report.notes)


def test_a_hard_linked_copy_is_read_once_and_named(tmp_path):
    root = labelled_folder(tmp_path / "mine")
    os.link(root / "ai" / "ai_0.png", root / "human" / "zz_same_inode.png")
    result = deepart_hf.build("folder", root, split_ratio="1:0:1")
    assert "human/zz_same_inode.png" not in rows_by_id(result)
    assert "same file as ai/ai_0.png" in skipped(result)["human/zz_same_inode.png"]


def _zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_zip_member_names_are_normalised_and_collisions_or_escapes_are_named(tmp_path):
    archive = _zip(
        tmp_path / "mine.zip",
        {
            **{f"human/h{i}.png": image_bytes(seed=i) for i in range(2)},
            "ai/x.png": image_bytes(seed=10),
            "ai/a/../x.png": image_bytes(seed=11),
            "ai/./y.png": image_bytes(seed=12),
            "../escape.png": image_bytes(seed=13),
            "/absolute.png": image_bytes(seed=14),
        },
    )
    tree = SourceTree.open(archive, "source")
    assert tree.files() == ["ai/x.png", "ai/y.png", "human/h0.png", "human/h1.png"]
    reasons = dict(tree.skipped)
    assert "same name as ai/x.png" in reasons["ai/a/../x.png"]
    assert "outside the archive" in reasons["../escape.png"] and "outside the archive" in reasons["/absolute.png"]
    result = deepart_hf.build("folder", archive, split_ratio="1:0:1")
    assert set(skipped(result)) >= {"ai/a/../x.png", "../escape.png", "/absolute.png"}
    assert len(rows_by_id(result)) == 4


def test_a_zip_member_larger_than_the_decoders_limit_is_not_read(tmp_path, monkeypatch):
    # The cap is one byte per pixel of Pillow's MAX_IMAGE_PIXELS; lowered here so the test stays small.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 20_000)
    archive = _zip(
        tmp_path / "mine.zip",
        {
            **{
                f"{label}/{i}.png": image_bytes(seed=i + 5 * (label == "ai"))
                for label in ("human", "ai")
                for i in range(2)
            },
            "ai/bomb.png": bytes(10_000_000),
        },
    )
    tree = SourceTree.open(archive, "source")
    opened = []
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, *a, **k: opened.append(a))
    with pytest.raises(OSError, match=r"too large to read safely: 10000000 bytes"):
        tree.read("ai/bomb.png")
    assert opened == []  # refused from the member's header, before any byte is inflated
    monkeypatch.undo()
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 20_000)
    result = deepart_hf.build("folder", archive, split_ratio="1:0:1")
    assert "too large" in skipped(result)["ai/bomb.png"] and len(rows_by_id(result)) == 4


def test_a_built_dataset_inside_a_source_is_not_read_as_images(tmp_path):
    root = labelled_folder(tmp_path / "mine")
    deepart_hf.publish(deepart_hf.build("folder", root, split_ratio="1:0:1"), tmp_path / "built")
    os.symlink(tmp_path / "built", root / "ai" / "built")
    result = deepart_hf.build("folder", root, split_ratio="1:0:1")
    assert len(rows_by_id(result)) == 6 and "a dataset built by deepart-hf" in skipped(result)["ai/built"]
