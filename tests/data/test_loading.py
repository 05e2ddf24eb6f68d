"""Reading a published folder back for training: two folders with one name never mix, and the Arrow cache
(and what is derived from it, such as resized images) survives from one run to the next."""

import os

import deepart_hf
from deepart_hf.data.loading import checked_split, dataset_caveats, load_splits
from deepart_hf.models import create_model
from deepart_hf.training.augment import pre_resize
from helpers import copy_deepart_subset


def test_two_folders_with_the_same_name_load_their_own_data(deepart_sample, tmp_path):
    synthetic = tmp_path / "a" / "deepart"
    deepart_hf.publish(deepart_hf.build("synthetic", n_per_class=10, image_size=16), synthetic)
    real = tmp_path / "b" / "deepart"
    source = copy_deepart_subset(deepart_sample, tmp_path / "raw", ["Gushici-0", "Gushici-1", "Gushici-2"])
    deepart_hf.publish(deepart_hf.build("deepart", source, split_ratio="1:1:1"), real)

    first, second = load_splits(str(synthetic)), load_splits(str(real))
    assert sum(map(len, first.values())) == 20 and first["train"][0]["image_id"].startswith(("human/", "ai/"))
    assert sum(map(len, second.values())) == 6 and second["train"][0]["image_id"].startswith(("Human/", "Aigc/"))
    assert "painting_id" in second["train"].column_names and "painting_id" not in first["train"].column_names
    # and again, in the other order, from the cache
    assert sum(map(len, load_splits(str(real)).values())) == 6
    assert sum(map(len, load_splits(str(synthetic)).values())) == 20
    assert sum(map(len, load_splits(str(real), "pairs").values())) == 3


def test_the_cache_and_the_resized_images_survive_between_runs(tmp_path):
    folder = tmp_path / "synthetic"
    deepart_hf.publish(deepart_hf.build("synthetic", n_per_class=6, image_size=40), folder)
    _, processor = create_model("resnet10t", from_scratch=True, image_size=32)

    def resized_test_split():
        test = checked_split(load_splits(str(folder)), "test", "test data")
        return pre_resize(test, processor)

    first = resized_test_split()
    cache_file = first.cache_files[0]["filename"]
    written = os.stat(cache_file).st_mtime_ns
    second = resized_test_split()  # a new run: same folder, same processor
    assert second.cache_files[0]["filename"] == cache_file and os.stat(cache_file).st_mtime_ns == written
    assert second[0]["image"]["bytes"] == first[0]["image"]["bytes"]


def test_caveats_measured_at_build_time_are_read_back_whatever_the_folder_is_called(deepart_sample, tmp_path):
    source = copy_deepart_subset(
        deepart_sample, tmp_path / "raw", ["Gushici-0", "Gushici-1", "Gushici-2", "Gushiwen-0"]
    )
    folder = tmp_path / "my-paintings"
    deepart_hf.publish(deepart_hf.build("deepart", source, split_ratio="1:1:2"), folder)
    caveats = dataset_caveats(str(folder))
    assert any(
        c.startswith("File format is confounded with the label (human images: 4 PNG; ai images: 4 JPEG)")
        for c in caveats
    )
    assert any("Every human image comes from one source (Feng Zikai)" in c for c in caveats)
    synthetic = tmp_path / "holiday-photos"
    deepart_hf.publish(deepart_hf.build("synthetic", n_per_class=4, image_size=16), synthetic)
    assert any(c.startswith("Not real art") for c in dataset_caveats(str(synthetic)))
    assert dataset_caveats(str(tmp_path / "no-such-folder")) is None
