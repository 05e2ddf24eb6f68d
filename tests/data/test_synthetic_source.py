"""The embedded synthetic set: deterministic, typed like every other source, and its trace is real."""

import io

import numpy as np
import pytest
from datasets import Dataset
from PIL import Image
from sklearn.metrics import roc_auc_score

from deepart_hf.constants import AI, HUMAN, LABELS
from deepart_hf.data.schema import PIXEL_HASH_KEY, image_features
from deepart_hf.data.sources import synthetic
from deepart_hf.data.sources.base import SOURCES, SourceOptions
from deepart_hf.errors import SourceError


def build(n_per_class=3, image_size=32, seed=0):
    return synthetic.collect(None, SourceOptions(n_per_class=n_per_class, image_size=image_size, seed=seed))


def pixels(record) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(record["image"]["bytes"])), dtype=float)


def period2_energy(image: np.ndarray) -> float:
    """Log power at the Nyquist frequencies, where the "ai" up-sampler puts its grid, over the median power."""
    power = np.abs(np.fft.fft2(image.mean(axis=-1))) ** 2
    nyquist = image.shape[0] // 2
    peak = power[nyquist, 0] + power[0, nyquist] + power[nyquist, nyquist]
    return float(np.log(peak / np.median(power)))


@pytest.fixture(scope="module")
def fifty_per_class():
    return build(n_per_class=50, image_size=64, seed=1)


def test_needs_no_source_folder_and_prefers_a_training_heavy_split():
    assert SOURCES["synthetic"].needs_source is False
    assert build().default_split_ratio == "8:1:1"


def test_same_seed_gives_the_same_bytes_and_another_seed_other_images():
    first, again, other = build(seed=5), build(seed=5), build(seed=6)
    assert [r["image"]["bytes"] for r in first.records] == [r["image"]["bytes"] for r in again.records]
    assert all(a["image"]["bytes"] != b["image"]["bytes"] for a, b in zip(first.records, other.records))


def test_counts_labels_and_columns():
    collection = build(n_per_class=4)
    records = collection.records
    assert [r["label"] for r in records].count(HUMAN) == 4
    assert [r["label"] for r in records].count(AI) == 4
    assert len({r["image_id"] for r in records}) == 8
    human, ai = records[0], records[-1]
    assert (
        human["image_id"] == "human/human-00000.png"
        and human["source"] == synthetic.HUMAN_SOURCE == "synthetic-procedural"
    )
    assert ai["image_id"] == "ai/ai-00003.png" and ai["source"] == synthetic.AI_SOURCE == "synthetic-upsampler"
    assert all(r["image"]["path"] == r["image_id"] and r["file_format"] == "PNG" for r in records)
    assert collection.group_by == "image_id" and collection.stratify_by == ("label",)


def test_records_load_as_a_dataset_with_the_project_schema():
    collection = build(image_size=48)
    assert collection.features == image_features()
    # Records also carry the pixel fingerprints the builder checks for duplicates; only the features are published.
    assert all(r[PIXEL_HASH_KEY] for r in collection.records)
    dataset = Dataset.from_list(
        [{k: r[k] for k in collection.features} for r in collection.records], features=collection.features
    )
    assert dataset.features["label"].names == LABELS
    row = dataset[len(dataset) - 1]
    assert row["label"] == AI and (row["width"], row["height"]) == (48, 48)
    assert row["image"].size == (48, 48) and row["image"].mode == "RGB" and row["image"].format == "PNG"


@pytest.mark.parametrize("size", [33, 64])
def test_images_decode_at_the_requested_size(size):
    for record in build(n_per_class=1, image_size=size).records:
        image = Image.open(io.BytesIO(record["image"]["bytes"]))
        assert (image.format, image.mode, image.size) == ("PNG", "RGB", (size, size))
        assert (record["width"], record["height"]) == (size, size)


def test_the_period2_trace_separates_the_classes_and_mean_colour_does_not(fifty_per_class):
    labels = [r["label"] for r in fifty_per_class.records]
    images = [pixels(r) for r in fifty_per_class.records]
    assert roc_auc_score(labels, [period2_energy(image) for image in images]) > 0.95
    for channel in range(3):
        mean_colour_auc = roc_auc_score(labels, [image[..., channel].mean() for image in images])
        assert abs(mean_colour_auc - 0.5) < 0.2, f"channel {channel}: AUC {mean_colour_auc:.2f}"


@pytest.mark.parametrize("options", [dict(n_per_class=0), dict(image_size=4)])
def test_unusable_options_are_refused(options):
    with pytest.raises(SourceError):
        synthetic.collect(None, SourceOptions(**options))
