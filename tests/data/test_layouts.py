"""Layouts as users and upstream repositories really ship them, on generated fixtures: system files,
loose images, sidecars (MIE1517 style), zip archives, duplicates and leaks, a --source one level too high."""

import io
import json
import zipfile

import numpy as np
import pytest
from datasets import Image as HFImage
from PIL import Image

import deepart_hf
from deepart_hf.errors import SourceError
from helpers import image_bytes, random_pixels, write_image


def make_dalle_repo(repo):
    """The Dall·E/Paintings repository: data/final_output_data/{train,val,test}/{artificial,human}/, as cloned on a Mac."""
    root = repo / "data" / "final_output_data"
    for split in ("train", "val", "test"):
        for class_name in ("artificial", "human"):
            for i in range(3):
                write_image(root / split / class_name / f"{i}.jpg", "JPEG")
            (root / split / class_name / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / "train" / "human" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    write_image(root / "__MACOSX" / "train" / "._0.jpg", "JPEG")
    write_image(root / "test" / "0_1676152178.jpg", "JPEG")  # loose in a split folder, as in some upstream commits
    (repo / "README.md").write_text("# ComputerVision_540\n")
    return root


def test_system_files_are_ignored_and_a_loose_image_is_listed(tmp_path):
    root = make_dalle_repo(tmp_path / "repo")
    result = deepart_hf.build("dalle_paintings", root, strict=True)  # nothing bad: --strict passes
    assert {s: len(d) for s, d in result.dataset.items()} == {"train": 6, "validation": 6, "test": 6}
    report = result.report.to_dict()
    assert report["skipped"] == [
        {"path": "test/0_1676152178.jpg", "reason": "image outside the label folders: not published"}
    ]
    assert report["hidden_files_ignored"] == 9


def test_a_source_above_the_layout_names_the_folder_that_has_it(tmp_path):
    root = make_dalle_repo(tmp_path / "repo")
    with pytest.raises(SourceError, match=rf"has no artificial/ or human/ folder; did you mean --source {root}\?"):
        deepart_hf.build("dalle_paintings", tmp_path / "repo")
    mine = tmp_path / "project" / "images"
    for label in ("ai", "human"):
        write_image(mine / label / "0.png")
    with pytest.raises(SourceError, match=rf"did you mean --source {mine}\?"):
        deepart_hf.build("folder", tmp_path / "project")


def make_mie_training(root, n=3):
    """MIE1517's training data: cropped_image_{i}.jpg beside cropped_image_{i}.json (prompt / artist / style)."""
    for folder, label_fields in (
        ("diffusiondb", {"prompt": "a castle at dusk", "style": None}),
        ("wikiart", {"artist": "Claude Monet", "style": "Impressionism"}),
    ):
        for i in range(n):
            write_image(root / folder / f"cropped_image_{i}.jpg", "JPEG")
            (root / folder / f"cropped_image_{i}.json").write_text(
                json.dumps({**label_fields, "index": i, "tags": ["x"]})
            )
    return root


def test_json_sidecars_become_string_columns(tmp_path):
    root = make_mie_training(tmp_path / "mie")
    (root / "wikiart" / "cropped_image_0.txt").write_text("  Water lilies \n")
    result = deepart_hf.build(
        "folder", root, label_map={"diffusiondb": "ai", "wikiart": "human"}, split_ratio="1:0:1", strict=True
    )
    rows = {r["image_id"]: r for split in result.dataset.values() for r in split.remove_columns("image")}
    assert len(rows) == 6 and not result.report.skipped
    ai, human = rows["diffusiondb/cropped_image_1.jpg"], rows["wikiart/cropped_image_0.jpg"]
    assert (ai["label"], ai["prompt"], ai["style"], ai["artist"], ai["index"]) == (
        1,
        "a castle at dusk",
        None,
        None,
        "1",
    )
    assert (human["label"], human["artist"], human["style"], human["caption"]) == (
        0,
        "Claude Monet",
        "Impressionism",
        "Water lilies",
    )
    assert all(
        result.dataset["train"].features[c].dtype == "string" for c in ("prompt", "artist", "style", "index", "caption")
    )
    assert "tags" not in result.dataset["train"].features
    assert any("lists or objects were left out: tags" in note for note in result.report.notes)


def test_a_sidecar_key_that_would_overwrite_a_column_is_refused_naming_the_file(tmp_path):
    root = make_mie_training(tmp_path / "mie", n=1)
    (root / "wikiart" / "cropped_image_0.json").write_text(json.dumps({"label": "human", "artist": "x"}))
    with pytest.raises(SourceError, match=r"sidecar .*wikiart/cropped_image_0\.json: key\(s\) 'label' would overwrite"):
        deepart_hf.build("folder", root, label_map={"diffusiondb": "ai", "wikiart": "human"})
    (root / "wikiart" / "cropped_image_0.json").write_text("{not json")
    with pytest.raises(SourceError, match=r"cropped_image_0\.json is not valid JSON"):
        deepart_hf.build("folder", root, label_map={"diffusiondb": "ai", "wikiart": "human"})


def _zip(path, members: dict[str, bytes]):
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_a_folder_of_zips_per_label_is_read_without_extracting(tmp_path):
    """MIE1517 ships its test images as unseen_AI_images.zip / unseen_Human_images.zip."""
    source = tmp_path / "unseen"
    for offset, (name, prefix) in enumerate((("unseen_AI_images", "ai"), ("unseen_Human_images", "human"))):
        # fixed seeds: the split follows the images' contents, which must not change from one run to the next
        members = {f"{name}/{prefix}_{i}.png": image_bytes(seed=100 * offset + i) for i in range(4)}
        members.update({"__MACOSX/._x": b"mac", f"{name}/.DS_Store": b"ds", f"{name}/broken.png": b"not an image"})
        _zip(source / f"{name}.zip", members)
    before = sorted(p.relative_to(source) for p in source.rglob("*"))
    result = deepart_hf.build("folder", source, split_ratio="1:0:1")
    assert sorted(p.relative_to(source) for p in source.rglob("*")) == before  # nothing extracted
    assert result.label_counts() == {
        "train": {"human": 2, "ai": 2},
        "validation": {"human": 0, "ai": 0},
        "test": {"human": 2, "ai": 2},
    }
    assert {s.path for s in result.report.skipped} == {
        "unseen_AI_images/unseen_AI_images/broken.png",
        "unseen_Human_images/unseen_Human_images/broken.png",
    }
    assert result.report.hidden_count == 4
    assert any("unseen_AI_images/ read as 'ai'" in note for note in result.report.notes)
    explicit = deepart_hf.build(
        "folder",
        source,
        split_ratio="1:0:1",
        label_map={"unseen_AI_images.zip": "ai", "unseen_Human_images.zip": "human"},
    )
    assert explicit.label_counts() == result.label_counts()


def test_a_zip_source_reads_like_the_folder_it_holds(tmp_path):
    folder = make_mie_training(tmp_path / "mie", n=2)
    archive = _zip(
        tmp_path / "mie.zip",
        {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()},
    )
    label_map = {"diffusiondb": "ai", "wikiart": "human"}
    with pytest.raises(SourceError, match="has no label folders"):  # the archive wraps the layout in mie/
        deepart_hf.build("folder", archive, label_map=label_map)
    inner = _zip(
        tmp_path / "flat.zip",
        {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()},
    )
    from_zip = deepart_hf.build("folder", inner, label_map=label_map, split_ratio="1:0:1")
    from_folder = deepart_hf.build("folder", folder, label_map=label_map, split_ratio="1:0:1")
    for split in ("train", "test"):
        assert (
            from_zip.dataset[split].remove_columns("image").to_list()
            == from_folder.dataset[split].remove_columns("image").to_list()
        )
        raw = [
            [i["bytes"] for i in r.dataset[split].cast_column("image", HFImage(decode=False))["image"]]
            for r in (from_zip, from_folder)
        ]
        assert raw[0] == raw[1]


def _save(pixels, path, fmt, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format=fmt, **kwargs)


def test_copies_are_found_by_pixels_and_kept_in_one_split_of_a_ratio_split(tmp_path):
    root = tmp_path / "mine"
    for label in ("human", "ai"):
        for i in range(10):
            write_image(root / label / f"{i}.png")
    original = np.asarray(Image.open(root / "ai" / "0.png").convert("RGB"))
    _save(original, root / "ai" / "resaved.bmp", "BMP")  # other bytes, same pixels
    smooth = (np.add.outer(np.arange(96), np.arange(96)) % 256).astype(np.uint8)
    scene = np.stack([smooth, smooth.T, 255 - smooth], axis=-1)
    _save(scene, root / "human" / "scene.png", "PNG")
    buffer = io.BytesIO()
    Image.fromarray(scene).resize((64, 64)).save(buffer, format="JPEG", quality=80)  # a resized, re-encoded copy
    (root / "human" / "scene_small.jpg").write_bytes(buffer.getvalue())
    exact = deepart_hf.build("folder", root, split_ratio="1:0:1", seed=3)
    assert exact.report.duplicates == [["ai/0.png", "ai/resaved.bmp"]] and not exact.report.near_duplicates
    near = deepart_hf.build("folder", root, split_ratio="1:0:1", seed=3, near_duplicates=True)
    assert near.report.near_duplicates == [["human/scene.png", "human/scene_small.jpg"]]
    for result, pairs in (
        (exact, [("ai/0.png", "ai/resaved.bmp")]),
        (near, [("ai/0.png", "ai/resaved.bmp"), ("human/scene.png", "human/scene_small.jpg")]),
    ):
        split_of = {i: s for s, d in result.dataset.items() for i in d["image_id"]}
        assert all(split_of[a] == split_of[b] for a, b in pairs)  # grouped before splitting: no leak to move
        assert not result.report.leaks_moved
    different = random_pixels(96, 96, seed=1)
    assert not deepart_hf.data.duplicates.near_clusters(
        [{"_near_hash": deepart_hf.data.images.difference_hash(Image.fromarray(p))} for p in (scene, different)]
    )


def test_a_cross_split_copy_moves_to_the_earlier_split_unless_strict(tmp_path):
    root = tmp_path / "dalle"
    for split in ("train", "val", "test"):
        for class_name in ("artificial", "human"):
            for i in range(2):
                write_image(root / split / class_name / f"{i}.jpg", "JPEG")
    (root / "test" / "human" / "copy.jpg").write_bytes((root / "val" / "human" / "0.jpg").read_bytes())
    result = deepart_hf.build("dalle_paintings", root)
    assert result.report.leaks_moved == [
        {
            "image_ids": ["test/human/copy.jpg", "val/human/0.jpg"],
            "from": {"test/human/copy.jpg": "test", "val/human/0.jpg": "validation"},
            "to": "validation",
        }
    ]
    assert {"test/human/copy.jpg", "val/human/0.jpg"} <= set(result.dataset["validation"]["image_id"])
    assert len(result.dataset["test"]) == 4
    with pytest.raises(SourceError, match=r"--strict: the same image is in several splits"):
        deepart_hf.build("dalle_paintings", root, strict=True)
