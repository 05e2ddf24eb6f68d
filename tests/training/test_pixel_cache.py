"""The decoded-pixel cache: built once and reused, a new one for changed data, and exactly the pixels, crops and
augmented images that decoding gives."""

import logging
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from datasets import Dataset, Features, Value
from datasets import Image as ImageFeature
from PIL import Image

import deepart_hf.data.pixel_cache as pixel_cache_module
from deepart_hf.data.images import decode_image
from deepart_hf.data.pixel_cache import INDEX_FILE, pixel_cache
from deepart_hf.models import create_model
from deepart_hf.models.preprocessing import PixelValues
from deepart_hf.training.augment import BlurJpeg, TrainTransform
from helpers import REPO, png_value, random_pixels

FEATURES = Features({"image": ImageFeature(decode=False), "label": Value("int64")})


def grey_value(seed: int) -> dict:
    """A grayscale PNG, converted to RGB by the decoder: the cache must hold the converted pixels."""
    import io

    buffer = io.BytesIO()
    Image.fromarray(random_pixels(40, 36, seed)[..., 0]).save(buffer, format="PNG")
    return {"bytes": buffer.getvalue(), "path": f"grey{seed}.png"}


def dataset(seed: int = 0) -> Dataset:
    # sizes above and below the 32-pixel crop (reflect padding), non-square, one duplicate, one grayscale
    values = [
        png_value(random_pixels(h, w, seed + i), f"img{i}.png")
        for i, (h, w) in enumerate([(70, 50), (20, 90), (33, 32), (12, 9)])
    ]
    values += [values[0], grey_value(seed)]
    return Dataset.from_dict({"image": values, "label": [0, 1, 0, 1, 0, 1]}, features=FEATURES)


# Builds a cache of 200 images and sends itself SIGTERM while decoding the third.
SIGTERM_DURING_BUILD = """
import os, signal, sys
from datasets import Dataset, Features, Image
import deepart_hf.data.pixel_cache as module
from helpers import png_value, random_pixels

original, decoded = module.decode_image, []

def decode(value):
    decoded.append(value)
    if len(decoded) == 3:
        os.kill(os.getpid(), signal.SIGTERM)
    return original(value)

module.decode_image = decode
values = [png_value(random_pixels(16, 16, seed), f"{seed}.png") for seed in range(200)]
data = Dataset.from_dict({"image": values}, features=Features({"image": Image(decode=False)}))
module.pixel_cache(data, root=sys.argv[1], workers=1)
"""


def test_sigterm_while_building_leaves_no_temporary_folder(tmp_path):
    root = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")]), "TQDM_DISABLE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", SIGTERM_DURING_BUILD, str(root)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode != 0, done.stderr
    assert root.is_dir() and list(root.iterdir()) == [], done.stderr  # neither a cache nor half of one


@pytest.fixture(scope="module")
def crop_processor():
    return create_model("resnet18", from_scratch=True, image_size=32, preprocess="crop", eval_crops=5)[1]


def test_the_cache_is_built_once_then_reused_without_decoding(tmp_path, monkeypatch):
    data = dataset()
    cache = pixel_cache(data, root=tmp_path)
    assert len(cache) == 5  # the duplicate is stored once
    assert cache.nbytes == sum(h * w * 3 for h, w in [(70, 50), (20, 90), (33, 32), (12, 9), (40, 36)])
    index = tmp_path / data._fingerprint / INDEX_FILE
    built = index.stat().st_mtime_ns

    def no_decoding(value):
        raise AssertionError("a cached split was decoded again")

    monkeypatch.setattr(pixel_cache_module, "decode_image", no_decoding)
    again = pixel_cache(data, root=tmp_path)
    assert again.folder == cache.folder and index.stat().st_mtime_ns == built
    for value in data["image"]:
        assert np.array_equal(again.array(value), np.asarray(decode_image(value)))
    assert [p.name for p in tmp_path.iterdir()] == [data._fingerprint]  # no temporary folder left behind


def test_building_the_cache_is_information_not_a_warning(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger=pixel_cache_module.__name__):
        pixel_cache(dataset(), root=tmp_path)
    built = [record for record in caplog.records if "built in" in record.getMessage()]
    assert [record.levelname for record in built] == ["INFO"]


def test_a_changed_dataset_gets_a_new_cache(tmp_path):
    first, changed = dataset(0), dataset(1)
    assert first._fingerprint != changed._fingerprint
    a, b = pixel_cache(first, root=tmp_path), pixel_cache(changed, root=tmp_path)
    assert a.folder != b.folder
    value = changed["image"][0]
    assert np.array_equal(b.array(value), np.asarray(decode_image(value)))
    assert a.array(value) is None  # the old cache does not know the new image: it is never read for it


def test_training_crops_from_the_cache_equal_crops_from_decoding(tmp_path, crop_processor):
    data = dataset()
    cache = pickle.loads(pickle.dumps(pixel_cache(data, root=tmp_path)))  # as a DataLoader worker gets it
    batch = data[:]
    for augment in (None, BlurJpeg(1.0)):  # blur/JPEG: the whole cached image goes through the augmentation
        torch.manual_seed(3)
        decoded = TrainTransform(crop_processor, augment)(batch)["pixel_values"]
        torch.manual_seed(3)
        cached = TrainTransform(crop_processor, augment, cache)(batch)["pixel_values"]
        for x, y in zip(decoded, cached):
            assert torch.equal(x, y)


def test_resize_mode_blur_jpeg_reads_the_full_image_from_the_cache(tmp_path):
    processor = create_model("resnet18", from_scratch=True, image_size=40)[1]
    data = dataset()
    cache = pixel_cache(data, root=tmp_path)
    torch.manual_seed(5)
    decoded = TrainTransform(processor, BlurJpeg(1.0))(data[:])["pixel_values"]
    torch.manual_seed(5)
    cached = TrainTransform(processor, BlurJpeg(1.0), cache)(data[:])["pixel_values"]
    assert all(torch.equal(x, y) for x, y in zip(decoded, cached))


def test_evaluation_crops_from_the_cache_are_the_saved_processors_crops(tmp_path, crop_processor):
    data = dataset()
    cache = pixel_cache(data, root=tmp_path)
    cached = PixelValues(crop_processor, cache)(data[:])["pixel_values"]
    images = [decode_image(value) for value in data["image"]]
    expected = crop_processor(images=images, return_tensors="pt")["pixel_values"]
    assert cached[0].shape == (5, 3, 32, 32)
    for x, y in zip(cached, expected):
        assert torch.equal(x, y)
    # an image the cache does not hold is decoded as before
    other = dataset(7)[:2]
    assert all(
        torch.equal(x, y)
        for x, y in zip(
            PixelValues(crop_processor, cache)(other)["pixel_values"],
            PixelValues(crop_processor)(other)["pixel_values"],
        )
    )


# --- CPU precision: bf16 by default only where the CPU has it, explicit flags decide ---------------------------


@pytest.mark.parametrize("native", [True, False])
def test_bf16_is_a_default_on_cpus_with_native_bf16_and_explicit_flags_decide(native, monkeypatch):
    from deepart_hf.training import arguments

    monkeypatch.setattr(arguments, "cpu_bf16_supported", lambda: native)
    monkeypatch.setattr(arguments.torch.cuda, "is_available", lambda: False)
    base = ["--dataset", "somewhere", "--output_dir", "out"]
    assert arguments.parse_arguments(base).training.bf16 is native
    assert arguments.parse_arguments([*base, "--bf16", "false"]).training.bf16 is False
    if native:
        assert arguments.parse_arguments([*base, "--bf16"]).training.bf16 is True
        assert arguments.parse_arguments(base).training.use_cpu  # transformers' condition for bf16 without a GPU


def test_bf16_is_never_a_default_beside_a_gpu(monkeypatch):
    from deepart_hf.training import arguments

    monkeypatch.setattr(arguments, "cpu_bf16_supported", lambda: True)
    monkeypatch.setattr(arguments.torch.cuda, "is_available", lambda: True)
    assert arguments.cpu_precision_defaults() == {}
