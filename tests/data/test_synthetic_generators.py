"""The synthetic set with several "generators": a `generator` ClassLabel, one grating period per generator."""

import io

import numpy as np
import pytest
from datasets import ClassLabel
from PIL import Image

from deepart_hf.constants import AI, HUMAN, REAL_GENERATOR
from deepart_hf.data.build_command import run_dataset_script
from deepart_hf.data.sources import synthetic
from deepart_hf.data.sources.base import SourceOptions
from deepart_hf.errors import SourceError


def build(generators, n_per_class=3, image_size=48, seed=0):
    options = SourceOptions(n_per_class=n_per_class, image_size=image_size, seed=seed, extra={"generators": generators})
    return synthetic.collect(None, options)


def pixels(record) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(record["image"]["bytes"])), dtype=float).mean(axis=-1)


def period_energy(image: np.ndarray, period: int) -> float:
    """Power at the grating's frequencies (size / period along each axis) over the median power."""
    power = np.abs(np.fft.fft2(image - image.mean())) ** 2
    k = image.shape[0] // period
    return float((power[k, 0] + power[0, k] + power[k, k]) / np.median(power))


def test_generator_column_names_real_first_then_one_class_per_period():
    collection = build(3)
    feature = collection.features["generator"]
    assert isinstance(feature, ClassLabel)
    assert feature.names == [REAL_GENERATOR, "upsampler-p2", "upsampler-p3", "upsampler-p4"]
    generators = [r["generator"] for r in collection.records]
    assert [generators.count(k) for k in range(4)] == [3, 3, 3, 3]
    assert all((r["label"] == HUMAN) == (r["generator"] == 0) for r in collection.records)
    assert [r["label"] for r in collection.records].count(AI) == 9
    assert collection.stratify_by == ("generator",)
    assert collection.records[-1]["image_id"] == "upsampler-p4/upsampler-p4-00002.png"


def test_period_two_generator_is_the_binary_sets_ai_class_and_real_is_its_human():
    binary, several = build(0), build(2)
    by_id = {r["image_id"]: r["image"]["bytes"] for r in several.records}
    assert by_id["real/real-00001.png"] == binary.records[1]["image"]["bytes"]  # human-00001
    assert by_id["upsampler-p2/upsampler-p2-00001.png"] == binary.records[4]["image"]["bytes"]  # ai-00001
    assert "generator" not in binary.features


def test_each_generator_carries_its_own_period():
    collection = build(3, n_per_class=12, image_size=96, seed=3)
    images = {k: [pixels(r) for r in collection.records if r["generator"] == k] for k in range(4)}
    for k, period in ((2, 3), (3, 4)):
        # the generator's own period stands out against real images and against the other generators
        own = np.median([period_energy(image, period) for image in images[k]])
        for other in {0, 1, 2, 3} - {k}:
            assert own > 3 * np.median([period_energy(image, period) for image in images[other]]), (k, other)


def test_too_many_generators_is_one_clear_error():
    with pytest.raises(SourceError, match="generators must be between 0"):
        build(synthetic.MAX_GENERATORS + 1)


def test_dataset_script_option_publishes_the_generator_column(tmp_path):
    out = tmp_path / "gen2"
    argv = ["--out", str(out), "--n_per_class", "4", "--image_size", "24", "--generators", "2"]
    assert run_dataset_script("synthetic", argv) == 0
    from deepart_hf.data.loading import load_splits

    splits = load_splits(str(out))
    train = splits["train"]
    assert train.features["generator"].names == [REAL_GENERATOR, "upsampler-p2", "upsampler-p3"]
    assert sum(len(s) for s in splits.values()) == 12
