"""Training's additions around the saved preprocessing: random crops and flips that follow the torch seed,
CNNDetection's blur + JPEG, and resizing once with no pixel changed."""

import pickle

import numpy as np
import pytest
import torch
from datasets import Dataset, Features, Value
from datasets import Image as ImageFeature
from PIL import Image

from deepart_hf.data.images import decode_image
from deepart_hf.errors import DeepArtError
from deepart_hf.models import create_model
from deepart_hf.models.preprocessing import PixelValues
from deepart_hf.training.augment import BlurJpeg, TrainTransform, pre_resize
from helpers import png_value, random_pixels


@pytest.fixture(scope="module")
def crop_processor():
    return create_model("resnet18", from_scratch=True, image_size=32, preprocess="crop")[1]


@pytest.fixture(scope="module")
def resize_processor():
    return create_model("resnet18", from_scratch=True, image_size=48)[1]


def test_training_crops_are_random_native_pixels_that_follow_the_torch_seed(crop_processor):
    pixels = random_pixels(96, 128)
    transform = TrainTransform(crop_processor)
    torch.manual_seed(0)
    first = [transform.pixel_values(png_value(pixels)) for _ in range(6)]
    assert any(not torch.equal(first[0], other) for other in first[1:])
    torch.manual_seed(0)
    assert all(torch.equal(a, transform.pixel_values(png_value(pixels))) for a in first)
    # each is one crop of the image at native resolution, maybe mirrored: find it among all positions
    every_crop = crop_processor.crops(Image.fromarray(pixels), eval_crops=1)  # the centre one, as a reference scale
    assert first[0].shape == every_crop[0].shape == (3, 32, 32)


def test_resize_mode_training_is_the_processor_plus_a_flip(resize_processor):
    value = png_value(random_pixels(100, 70))
    evaluation = PixelValues(resize_processor)({"image": [value]})["pixel_values"][0]
    torch.manual_seed(1)
    seen = [TrainTransform(resize_processor).pixel_values(value) for _ in range(8)]
    assert all(torch.equal(x, evaluation) or torch.equal(x, evaluation.flip(-1)) for x in seen)
    assert any(torch.equal(x, evaluation) for x in seen) and any(torch.equal(x, evaluation.flip(-1)) for x in seen)


def test_blur_jpeg_with_probability_zero_is_the_identity_and_one_degrades():
    image = Image.fromarray(random_pixels(64, 64))
    assert BlurJpeg(0.0)(image) is image
    degraded = BlurJpeg(1.0, sigma=(1.0, 2.0), quality=(30, 40))(image)
    assert degraded.mode == "RGB" and degraded.size == image.size
    assert np.abs(np.asarray(degraded, dtype=int) - np.asarray(image, dtype=int)).mean() > 10
    with pytest.raises(DeepArtError, match="quality"):
        BlurJpeg(0.5, quality=(0, 100))


def test_the_training_transform_pickles_for_dataloader_workers(crop_processor):
    transform = TrainTransform(crop_processor, BlurJpeg(0.5))
    value = png_value(random_pixels(96, 96))
    restored = pickle.loads(pickle.dumps(transform))
    torch.manual_seed(3)
    a = transform.pixel_values(value)
    torch.manual_seed(3)
    assert torch.equal(restored.pixel_values(value), a)


def test_pre_resize_stores_small_lossless_images_that_give_identical_inputs(resize_processor, crop_processor):
    features = Features({"image": ImageFeature(decode=False), "label": Value("int64")})
    # more images than one batch of the resizing threads, so their order across batches is checked too
    values = [png_value(random_pixels(120, 100, seed), f"Human/{seed}.png") for seed in range(20)]
    dataset = Dataset.from_dict({"image": values, "label": [0, 1] * 10}, features=features)
    resized = pre_resize(dataset.cast_column("image", ImageFeature()), resize_processor)  # decoded or not, either
    assert resized.features == features
    assert [v["path"] for v in resized["image"]] == [f"Human/{seed}.png" for seed in range(20)]
    assert decode_image(resized[0]["image"]).size == (48, 48)
    evaluation = PixelValues(resize_processor)
    assert torch.equal(
        torch.stack(evaluation({"image": values})["pixel_values"]),
        torch.stack(evaluation({"image": resized["image"]})["pixel_values"]),
    )
    assert pre_resize(dataset, crop_processor) is dataset  # native crops need native pixels
