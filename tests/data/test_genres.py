"""The genre study's dataset as published upstream, read from its real sample (the ``genres_sample`` fixture)."""

import json

import pytest

import deepart_hf
from deepart_hf.errors import SourceError
from helpers import write_image


def _files(root, genre, split):
    return sorted(p for p in (root / genre / split).rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def sample_build(genres_sample):
    return deepart_hf.build("genres", genres_sample)


def test_upstream_layout_keeps_the_study_split_and_maps_the_class_folders(genres_sample, sample_build):
    genres = [g.name for g in sorted(genres_sample.iterdir()) if g.is_dir() and g.name != "mixed"]
    assert list(sample_build.configs) == ["mixed", *genres]
    mixed = sample_build.configs["mixed"]
    rows = [r for split in mixed.values() for r in split.remove_columns("image")]
    for row in rows:  # AI_generated -> ai, hand_drawing -> human, whatever the case of the extension
        assert row["label"] == (1 if "/AI_generated/" in row["image_id"] else 0)
        assert row["genre"] == row["image_id"].split("/")[0]
    assert {r["image_id"].rsplit(".", 1)[1] for r in rows} == {"jpg", "JPG"}
    # every genre image is published once, in the split its folder says (the leaked copy aside)
    leaked = {"castle/testing_set/AI_generated/15.jpg"}
    for split, folder in (("train", "training_set"), ("test", "testing_set")):
        expected = {p.relative_to(genres_sample).as_posix() for g in genres for p in _files(genres_sample, g, folder)}
        got = set(mixed[split]["image_id"])
        assert got - leaked == expected - leaked
    assert not mixed["validation"].num_rows


def test_the_leaked_castle_image_is_found_and_kept_out_of_the_test_split(genres_sample, sample_build):
    report = sample_build.report.to_dict()
    pair = ["castle/testing_set/AI_generated/15.jpg", "castle/training_set/AI_generated/84.jpg"]
    assert pair in report["duplicates"]
    moved = [m for m in report["leaks_moved"] if sorted(m["image_ids"]) == pair]
    assert moved and moved[0]["to"] == "train" and moved[0]["from"][pair[0]] == "test"
    mixed = sample_build.configs["mixed"]
    assert set(pair) <= set(mixed["train"]["image_id"]) and not set(pair) & set(mixed["test"]["image_id"])
    with pytest.raises(SourceError, match=r"--strict: the same image is in several splits .*15\.jpg \(test\)"):
        deepart_hf.build("genres", genres_sample, strict=True)


def test_upstream_mixed_is_recognised_as_copies_and_not_published_twice(genres_sample, sample_build, tmp_path):
    mixed_files = {
        p.relative_to(genres_sample).as_posix()
        for s in ("training_set", "testing_set")
        for p in _files(genres_sample, "mixed", s)
    }
    dropped = {d["image_id"]: d["copy_of"] for d in sample_build.report.copies_dropped}
    assert set(dropped) == mixed_files
    for copy, original in dropped.items():  # the same bytes, in another genre's folder
        assert (genres_sample / copy).read_bytes() == (genres_sample / original).read_bytes()
        assert not original.startswith("mixed/")
    published = {i for split in sample_build.configs["mixed"].values() for i in split["image_id"]}
    assert not published & mixed_files
    per_genre = sum(
        len(split) for config, ds in sample_build.configs.items() if config != "mixed" for split in ds.values()
    )
    assert per_genre == len(published)
    out = deepart_hf.publish(sample_build, tmp_path / "out").path
    card = (out / "README.md").read_text()
    assert f"{len(mixed_files)} of its {len(mixed_files)} images are pixel-identical copies" in card
    assert "1 group(s) of identical images (2 images), 1 cross-split leak(s) moved to one split" in card
    assert json.loads((out / "build_report.json").read_text())["copies_dropped_count"] == len(mixed_files)


def test_validation_is_carved_from_train_grouped_and_stratified(genres_sample, sample_build):
    result = deepart_hf.build("genres", genres_sample, validation_share=0.25)
    mixed, before = result.configs["mixed"], sample_build.configs["mixed"]
    assert set(mixed["test"]["image_id"]) == set(before["test"]["image_id"])
    assert set(mixed["train"]["image_id"]) | set(mixed["validation"]["image_id"]) == set(before["train"]["image_id"])
    assert 0 < mixed["validation"].num_rows < mixed["train"].num_rows
    # the two copies of the leaked image stay together
    leaked = {"castle/testing_set/AI_generated/15.jpg", "castle/training_set/AI_generated/84.jpg"}
    assert leaked <= set(mixed["train"]["image_id"]) or leaked <= set(mixed["validation"]["image_id"])
    for genre in ("castle", "ganyu", "sports_car"):
        assert set(result.configs[genre]["validation"]["label"]) == {0, 1}
    assert "validation 1/4 of the source's train split" in result.split_plan.describe()


def test_label_map_overrides_the_class_folder_names(tmp_path):
    root = tmp_path / "genres"
    for genre in ("castle", "car"):
        for split in ("training_set", "testing_set"):
            for folder in ("gen", "drawn"):
                for i in range(2):
                    write_image(root / genre / split / folder / f"{i}.PNG")
    with pytest.raises(SourceError, match="has no class folders"):
        deepart_hf.build("genres", root)
    result = deepart_hf.build("genres", root, label_map={"gen": "ai", "drawn": "human"})
    assert result.label_counts() == {
        "train": {"human": 4, "ai": 4},
        "validation": {"human": 0, "ai": 0},
        "test": {"human": 4, "ai": 4},
    }


def test_a_new_genre_called_mixed_is_still_refused(tmp_path):
    for genre in ("castle", "mixed"):
        for label in ("ai", "human"):
            write_image(tmp_path / "g" / genre / label / "0.png")
    with pytest.raises(SourceError, match="genre folder 'mixed' cannot be a configuration name"):
        deepart_hf.build("genres", tmp_path / "g", split_ratio="1:0:1")


def test_pointing_above_the_dataset_names_the_folder(genres_sample, tmp_path):
    repo = tmp_path / "COMP576-project"
    (repo / "code").mkdir(parents=True)
    (repo / "dataset").symlink_to(genres_sample, target_is_directory=True)
    with pytest.raises(SourceError, match=rf"did you mean --source {repo / 'dataset'}\?"):
        deepart_hf.build("genres", repo)
