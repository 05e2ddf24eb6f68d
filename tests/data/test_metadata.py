"""Poem metadata: merged by PaintingID, Chinese text intact, every mistake named by row or file."""

import json

import pytest

import deepart_hf
from deepart_hf.data.metadata import load_poem_metadata
from deepart_hf.errors import MetadataError
from helpers import copy_deepart_subset

POEM = "人散后，一钩新月天如水"


@pytest.fixture
def small_deepart(deepart_sample, tmp_path):
    return copy_deepart_subset(deepart_sample, tmp_path / "raw", ["Gushici-0", "Gushici-1", "Gushiwen-0"])


def test_csv_with_the_papers_column_names_fills_the_poem_columns(small_deepart, tmp_path):
    csv = tmp_path / "poems.csv"
    csv.write_text(
        "PaintingID,PoemID,PoemText,PoemTitle,PoemDynasty,PoemAuthor,Explanation,Commentary\n"
        f'Gushici-0,7,{POEM},千秋岁,宋,谢无逸,"人们散去之后，一弯新月挂在天上",丰子恺的画\n',
        encoding="utf-8-sig",  # spreadsheet export with a byte-order mark
    )
    result = deepart_hf.build("deepart", small_deepart, metadata=csv, split_ratio="1:0:2")
    rows = [r for d in result.dataset.values() for r in d.remove_columns("image")]
    gushici0 = [r for r in rows if r["painting_id"] == "Gushici-0"]
    assert len(gushici0) == 2 and all(r["poem_text"] == POEM and r["poem_dynasty"] == "宋" for r in gushici0)
    assert all(r["poem_id"] == "7" for r in gushici0)
    assert all(r["poem_text"] is None for r in rows if r["painting_id"] != "Gushici-0")  # not in the file: null
    pair = next(p for d in result.configs["pairs"].values() for p in d if p["painting_id"] == "Gushici-0")
    assert pair["poem_author"] == "谢无逸"


def test_jsonl_with_our_column_names(tmp_path):
    path = tmp_path / "poems.jsonl"
    path.write_text(
        json.dumps({"painting_id": "Gushiwen-0", "poem_title": "静夜思"}, ensure_ascii=False) + "\n\n", encoding="utf-8"
    )
    assert load_poem_metadata(path)["Gushiwen-0"]["poem_title"] == "静夜思"


def test_unknown_painting_is_refused_naming_it(small_deepart, tmp_path):
    csv = tmp_path / "poems.csv"
    csv.write_text("PaintingID,PoemTitle\nGushici-0,a\nGushici-999,b\n", encoding="utf-8")
    with pytest.raises(
        MetadataError, match=r"poems.csv: 1 row\(s\) for PaintingIDs with no image in the source: Gushici-999"
    ):
        deepart_hf.build("deepart", small_deepart, metadata=csv)


def test_duplicate_key_names_both_rows(tmp_path):
    csv = tmp_path / "poems.csv"
    csv.write_text("PaintingID,PoemTitle\nGushici-0,a\nGushici-1,b\nGushici-0,c\n", encoding="utf-8")
    with pytest.raises(MetadataError, match=r"line 4: duplicate PaintingID 'Gushici-0' \(first at .*line 2\)"):
        load_poem_metadata(csv)


def test_undecodable_file_is_named(tmp_path):
    path = tmp_path / "poems.csv"
    path.write_bytes(b"PaintingID,PoemTitle\nGushici-0," + "静夜思".encode("gbk") + b"\n")
    with pytest.raises(MetadataError, match=r"poems.csv: not valid UTF-8 \(line 2"):
        load_poem_metadata(path)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("p.csv", "Painting,PoemTitle\nGushici-0,x\n", "no PaintingID column; map the file's key column"),
        ("p.csv", "PaintingID,label\nGushici-0,x\n", "'label' would overwrite the image's own columns"),
        ("p.jsonl", '{"PaintingID": "Gushici-0"}\nnot json\n', "line 2 is not valid JSON"),
        ("p.jsonl", '["Gushici-0"]\n', "line 1 is not a JSON object"),
        ("p.csv", "PaintingID,PoemTitle\n,x\n", "line 2: no PaintingID"),
        ("p.txt", "x", "unsupported metadata format"),
    ],
)
def test_malformed_rows_are_named(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(MetadataError, match=message):
        load_poem_metadata(path)


def test_missing_file(tmp_path):
    with pytest.raises(MetadataError, match="metadata file not found"):
        load_poem_metadata(tmp_path / "nope.csv")


def test_extra_columns_are_kept_and_metadata_columns_select_and_rename(small_deepart, tmp_path):
    csv = tmp_path / "poems.csv"
    csv.write_text(f"Painting,Text,Page,Volume\nGushici-0,{POEM},12,上\nGushici-1,x,13,下\n", encoding="utf-8")
    with pytest.raises(MetadataError, match="no PaintingID column"):
        deepart_hf.build("deepart", small_deepart, metadata=csv)
    kept = deepart_hf.build(
        "deepart",
        small_deepart,
        metadata=csv,
        metadata_columns="Painting=painting_id,Text=poem_text,Page,Volume=volume",
        split_ratio="1:0:2",
    )
    rows = {r["image_id"]: r for d in kept.dataset.values() for r in d.remove_columns("image")}
    assert (
        rows["Human/Gushici-0.PNG"]["poem_text"],
        rows["Human/Gushici-0.PNG"]["Page"],
        rows["Aigc/Gushici-0.jpg"]["volume"],
    ) == (POEM, "12", "上")
    assert [r["Page"] for r in rows.values() if r["painting_id"] == "Gushiwen-0"] == [
        None,
        None,
    ]  # no metadata row: null
    assert kept.dataset["train"].features["Page"].dtype == "string"
    pairs = {
        p["painting_id"]: p
        for d in kept.configs["pairs"].values()
        for p in d.remove_columns(["human_image", "ai_image"])
    }
    assert pairs["Gushici-1"]["volume"] == "下" and pairs["Gushici-1"]["poem_text"] == "x"
    selected = deepart_hf.build(
        "deepart",
        small_deepart,
        metadata=csv,
        metadata_columns="Painting=painting_id,Text=poem_text",
        split_ratio="1:0:2",
    )
    assert "Page" not in selected.dataset["train"].features and "volume" not in selected.dataset["train"].features
    with pytest.raises(MetadataError, match=r"--metadata_columns names column\(s\) 'Poem'"):
        deepart_hf.build("deepart", small_deepart, metadata=csv, metadata_columns="Painting=painting_id,Poem=poem_text")
