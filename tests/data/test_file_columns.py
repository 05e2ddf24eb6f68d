"""A generator (and any other column) for each file of a user's collection, from a table of files or from the
file names: generated fixtures, and the real art-game half whose generator is its file-name prefix."""

import json
from collections import Counter

import pytest

import deepart_hf
from deepart_hf.data.build_command import run_dataset_script
from deepart_hf.data.loading import load_splits
from deepart_hf.errors import SourceError
from helpers import ART_GAME_PATTERNS, write_image


def make_collection(root, generators=("dalle", "midjourney"), n=2):
    for i in range(n):
        write_image(root / "human" / f"museum-baroque-{i}.jpg", "JPEG")
        for generator in generators:
            write_image(root / "ai" / f"{generator}-{i}.jpg", "JPEG")
    return root


def write_table(path, rows):
    path.write_text("file_name,generator,style\n" + "".join(",".join(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_a_name_pattern_per_label_gives_the_generator_and_a_style(tmp_path):
    root = make_collection(tmp_path / "mine")
    patterns = ["ai=(?P<generator>[^-]+)-", "human=[^-]+-(?P<style>[^-]+)-"]
    result = deepart_hf.build("folder", root, split_ratio="1:0:1", extra={"name_pattern": patterns})
    rows = [row for split in result.dataset.values() for row in split.remove_columns("image").to_list()]
    generator = result.dataset["train"].features["generator"]
    assert generator.names == ["real", "dalle", "midjourney"]  # real first, as in D-ANI and the synthetic set
    by_file = {row["image_id"]: (generator.int2str(row["generator"]), row["style"]) for row in rows}
    assert by_file["ai/dalle-1.jpg"] == ("dalle", None)
    assert by_file["ai/midjourney-0.jpg"] == ("midjourney", None)
    assert by_file["human/museum-baroque-0.jpg"] == ("real", "baroque")
    # stratified by generator: each split holds one image of each of the 3 generator classes (2 + 2 + 2 images)
    for name in ("train", "test"):
        assert Counter(result.dataset[name]["generator"]) == {0: 1, 1: 1, 2: 1}
    assert "generators: real 2, dalle 2, midjourney 2" in result.report.notes


def test_a_table_of_files_gives_columns_and_may_sit_in_the_source(tmp_path):
    root = make_collection(tmp_path / "mine", generators=("sd",), n=2)
    table = write_table(root / "metadata.csv", [
        ("ai/sd-0.jpg", "stable diffusion", ""), ("ai/sd-1.jpg", "stable diffusion", "anime"),
        ("human/museum-baroque-0.jpg", "", "baroque"), ("human/museum-baroque-1.jpg", "real", "baroque"),
    ])  # fmt: skip
    result = deepart_hf.build("folder", root, metadata=table, split_ratio="1:0:1")
    rows = {r["image_id"]: r for split in result.dataset.values() for r in split.remove_columns("image").to_list()}
    assert result.dataset["train"].features["generator"].names == ["real", "stable diffusion"]
    assert (rows["ai/sd-1.jpg"]["generator"], rows["ai/sd-1.jpg"]["style"]) == (1, "anime")
    assert (rows["ai/sd-0.jpg"]["style"], rows["human/museum-baroque-0.jpg"]["generator"]) == (None, 0)
    assert not result.report.skipped  # the table is read, not listed as a file the build left out


@pytest.mark.parametrize(
    "rows, message",
    [
        ([("ai/dalle-0.jpg", "dalle", "")], r"mine/ai/dalle-1\.jpg has no row in .*metadata\.csv \(3 images have none\)"),
        ([("ai/dalle-9.jpg", "dalle", "")], r"metadata\.csv: 1 row\(s\) name no image of the source: ai/dalle-9\.jpg"),
        ([("ai/dalle-0.jpg", "x", ""), ("ai/dalle-0.jpg", "y", "")], r"metadata\.csv: line 3: file_name 'ai/dalle-0\.jpg' is listed twice \(first at line 2\)"),
    ],
)  # fmt: skip
def test_a_bad_table_is_one_line_naming_the_file(tmp_path, rows, message):
    root = make_collection(tmp_path / "mine", generators=("dalle",), n=2)
    table = write_table(tmp_path / "metadata.csv", rows)
    with pytest.raises(SourceError, match=message):
        deepart_hf.build("folder", root, metadata=table)


def test_a_table_without_file_names_or_with_a_core_column_is_refused(tmp_path):
    root = make_collection(tmp_path / "mine", n=1)
    (tmp_path / "t.csv").write_text("path,generator\nai/dalle-0.jpg,dalle\n")
    with pytest.raises(SourceError, match=r"t\.csv: no file_name column .*; it has path, generator"):
        deepart_hf.build("folder", root, metadata=tmp_path / "t.csv")
    (tmp_path / "t.csv").write_text("file_name,label\nai/dalle-0.jpg,human\n")
    with pytest.raises(SourceError, match=r"t\.csv: column\(s\) 'label' would overwrite the image's own columns"):
        deepart_hf.build("folder", root, metadata=tmp_path / "t.csv")


def test_unmatched_names_and_generators_on_the_wrong_label_name_the_file(tmp_path):
    root = make_collection(tmp_path / "mine")
    write_image(root / "ai" / "untitled.jpg", "JPEG")
    with pytest.raises(
        SourceError,
        match=r"mine/ai/untitled\.jpg: its name does not match --name-pattern 'ai=\(\?P<generator>\[\^-\]\+\)-'$",
    ):
        deepart_hf.build("folder", root, extra={"name_pattern": ["ai=(?P<generator>[^-]+)-"]})
    (root / "ai" / "untitled.jpg").unlink()
    # one pattern for every image: a human artwork's prefix is not a generator
    with pytest.raises(SourceError, match=r"mine/human/museum-baroque-0\.jpg: a human image given generator 'museum'"):
        deepart_hf.build("folder", root, extra={"name_pattern": ["(?P<generator>[^-]+)-"]})
    for pattern, message in [
        ("ai=(?P<generator>[", "is not a regular expression"),
        ("ai=[^-]+-", "has no named group"),
    ]:
        with pytest.raises(SourceError, match=message):
            deepart_hf.build("folder", root, extra={"name_pattern": [pattern]})


def test_the_art_game_half_by_its_file_names(art_game_sample, tmp_path, capsys):
    out = tmp_path / "art-game-half"
    argv = [
        "--source",
        str(art_game_sample),
        "--out",
        str(out),
        "--split-ratio",
        "6:1:3",
        "--name-pattern",
        *ART_GAME_PATTERNS,
    ]
    assert run_dataset_script("folder", argv) == 0
    assert "Built folder: 500 images (human 250, ai 250; train 300, validation 50, test 150)" in capsys.readouterr().out
    dataset = load_splits(str(out))
    generator = dataset["train"].features["generator"]
    assert generator.names == ["real", "dalle", "midjourney", "stable_diffusion"]
    counts = Counter(generator.int2str(g) for split in dataset.values() for g in split["generator"])
    assert counts == {"real": 250, "dalle": 83, "midjourney": 84, "stable_diffusion": 83}  # as its README says
    assert Counter(dataset["test"]["generator"]) == {0: 75, 1: 25, 2: 25, 3: 25}
    styles = Counter(s for split in dataset.values() for s in split["style"] if s)
    assert (styles["illustrations"], styles["general_art"], styles["ukiyo_e"]) == (75, 50, 12)
    assert json.loads((out / "build_report.json").read_text())["skipped"] == [
        {"path": "README.md", "reason": "not part of the layout: not read"}
    ]
