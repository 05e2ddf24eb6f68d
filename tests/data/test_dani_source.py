"""The D-ANI layout fixture -> a Hub folder: columns, formats from bytes, grouped split, filters, streamed shards."""

import importlib
import json
import shutil

from deepart_hf.data.build_command import run_dataset_script
from deepart_hf.data.loading import load_splits
from deepart_hf.data.schema import DANI_GENERATORS

publish_module = importlib.import_module("deepart_hf.data.publish")


def build(tmp_path, source, *flags, name="out"):
    out = tmp_path / name
    status = run_dataset_script("dani", ["--source", str(source), "--out", str(out), *flags])
    return status, out


def rows(out):
    splits = load_splits(str(out))
    return {split: ds.remove_columns("image").to_list() for split, ds in splits.items()}, splits


def test_every_image_becomes_a_row_with_generator_task_caption_and_true_format(dani_sample, tmp_path):
    status, out = build(tmp_path, dani_sample, "--split_ratio", "1:0:1")
    assert status == 0
    by_split, splits = rows(out)
    all_rows = [row for split_rows in by_split.values() for row in split_rows]
    assert len(all_rows) == 46  # 6 photographs (2 COCO images x 3 resolutions) + 40 generated files
    features = splits["train"].features
    assert features["generator"].names == list(DANI_GENERATORS)
    captions = json.loads((dani_sample / "captions.json").read_text())
    for row in all_rows:
        generator = features["generator"].int2str(row["generator"])
        assert generator == row["image_id"].split("/")[0].replace("ORG", "real")
        assert row["label"] == (0 if generator == "real" else 1)
        # the DALL-E files are PNG bytes under a .jpg name: the format comes from the bytes
        assert row["file_format"] == ("PNG" if generator.startswith("Dalle") else "JPEG")
        if generator == "real":
            assert row["task"] == "original" and row["caption"] is None
        else:
            expected = {c["caption_id"]: c["caption"] for c in captions[str(row["coco_id"])]["captions"]}
            assert row["caption"] == expected[row["caption_id"]]
            assert row["resolution"] == int(row["image_id"].split("/")[1])
    # grouped by COCO image: a photograph at every resolution and everything made from it share one split
    split_of = {}
    for split, split_rows in by_split.items():
        for row in split_rows:
            assert split_of.setdefault(row["coco_id"], split) == split
    assert sorted(split_of.values()) == ["test", "train"]
    decoded = splits["train"][0]["image"]
    assert decoded.size[0] in (224, 256, 512, 1024)
    card = (out / "README.md").read_text()
    assert "cc-by-nc-4.0" in card and "2412.17632" in card and "Photographs, not artworks" in card
    assert "| Dalle3 |" in card  # the generator balance is in the card


def test_filters_and_balancing_keep_the_same_coco_images_for_every_generator(dani_sample, tmp_path):
    status, out = build(tmp_path, dani_sample, "--resolutions", "512", "--generators", "SD_XL,Dalle2", "--tasks", "T2I")
    assert status == 0
    all_rows = [row for split_rows in rows(out)[0].values() for row in split_rows]
    assert (
        sorted(r["image_id"].rsplit("/", 1)[0] for r in all_rows)
        == ["Dalle2/512/T2I"] * 2 + ["ORG/512"] * 2 + ["SD_XL/512/T2I"] * 2
    )

    status, out = build(
        tmp_path, dani_sample, "--max_per_generator", "1", "--real_per_generated", "0.25", name="balanced"
    )
    assert status == 0
    all_rows = [row for split_rows in rows(out)[0].values() for row in split_rows]
    generated = [r for r in all_rows if r["label"] == 1]
    photos = [r for r in all_rows if r["label"] == 0]
    assert len(generated) == len(DANI_GENERATORS) - 1  # one per generator
    assert len({r["coco_id"] for r in generated}) == 1  # the same COCO image for all of them
    assert len(photos) == round(0.25 * len(generated)) == 2
    assert {r["coco_id"] for r in photos} == {generated[0]["coco_id"]}  # photographs of kept COCO images first
    report = json.loads((out / "build_report.json").read_text())
    assert any("--max_per_generator" in note for note in report["notes"])


def test_bad_input_is_one_line_and_bad_files_are_listed(dani_sample, tmp_path, capsys):
    status, _ = build(tmp_path, dani_sample, "--generators", "SD_XL,Midjourney")
    assert status == 2 and "unknown Midjourney" in capsys.readouterr().err

    source = shutil.copytree(dani_sample, tmp_path / "layout")
    (source / "SD_XL/512/T2I/110211_512701.jpg").write_bytes(b"not a jpeg")
    (source / "Midjourney").mkdir()
    status, out = build(tmp_path, source)
    assert status == 0
    skipped = {s["path"]: s["reason"] for s in json.loads((out / "build_report.json").read_text())["skipped"]}
    assert set(skipped) == {"SD_XL/512/T2I/110211_512701.jpg", "Midjourney/"}
    assert sum(len(ds) for ds in load_splits(str(out)).values()) == 45


def test_a_streamed_build_writes_several_shards_and_loses_no_row(dani_sample, tmp_path, monkeypatch):
    # Shards are planned from file sizes before reading: a small limit gives several, all loadable.
    monkeypatch.setattr(publish_module, "MAX_SHARD_BYTES", 1_000_000)
    monkeypatch.setattr(publish_module, "READ_AHEAD", 3)
    status, out = build(tmp_path, dani_sample, "--split_ratio", "1:0:0")
    assert status == 0
    shards = sorted(p.name for p in (out / "data").glob("train-*.parquet"))
    assert len(shards) >= 5 and shards[-1].endswith(f"-of-{len(shards):05d}.parquet")
    loaded = load_splits(str(out))["train"]
    assert len(loaded) == 46 and len(set(loaded["image_id"])) == 46
