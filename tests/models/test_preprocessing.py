"""Undecoded images -> pixel_values: decoding, the resize and crop modes, blur/JPEG, collate, pickling."""

import io
import pickle

import numpy as np
import pytest
import timm
import torch
from datasets import Dataset, Features, Value
from datasets import Image as ImageFeature
from PIL import Image
from transformers import TimmWrapperImageProcessor, ViTImageProcessor

from deepart_hf.data.images import decode_image
from deepart_hf.errors import DeepArtError
from deepart_hf.models.preprocessing import (
    PREPROCESS_MODES,
    BlurJpeg,
    ImageTransform,
    build_transform,
    collate,
    pre_resize,
    processor_geometry,
)

MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)


def png_value(pixels: np.ndarray, path: str = "Human/synthetic.png") -> dict:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return {"bytes": buffer.getvalue(), "path": path}


def random_pixels(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def normalised(pixels: np.ndarray) -> torch.Tensor:
    """What the model should see for these uint8 pixels: (C, H, W), scaled to [0, 1], then (x - mean) / std."""
    x = torch.from_numpy(pixels).permute(2, 0, 1).float() / 255
    return (x - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]


@pytest.fixture(scope="module")
def vit_processor() -> ViTImageProcessor:
    return ViTImageProcessor(size={"height": 64, "width": 64}, image_mean=list(MEAN), image_std=list(STD))


@pytest.fixture(scope="module")
def timm_processor() -> TimmWrapperImageProcessor:
    # as models.py builds it for a from-scratch timm model: timm's own config, at the run's input size
    pretrained_cfg = dict(timm.create_model("resnet18", pretrained=False).pretrained_cfg, input_size=(3, 48, 48))
    return TimmWrapperImageProcessor(pretrained_cfg, "resnet18")


def test_decode_reads_bytes_or_the_file_at_path(deepart_sample):
    path = deepart_sample / "Human" / "Gushici-0.PNG"
    from_bytes = decode_image({"bytes": path.read_bytes(), "path": "Human/Gushici-0.PNG"})
    from_path = decode_image({"bytes": None, "path": str(path)})
    assert from_bytes.mode == from_path.mode == "RGB"
    assert from_bytes.size == (1024, 1024)
    assert np.array_equal(np.asarray(from_bytes), np.asarray(from_path))


def test_decode_converts_every_mode_to_rgb():
    buffer = io.BytesIO()
    Image.new("RGBA", (8, 8), (10, 20, 30, 40)).save(buffer, format="PNG")
    assert decode_image({"bytes": buffer.getvalue(), "path": "x.png"}).mode == "RGB"


def test_a_corrupt_or_missing_image_names_its_file(deepart_sample, tmp_path):
    data = (deepart_sample / "Human" / "Gushici-3.PNG").read_bytes()
    with pytest.raises(DeepArtError, match=r"cannot decode image 'Human/Gushici-3.PNG': .*truncated"):
        decode_image({"bytes": data[: len(data) // 2], "path": "Human/Gushici-3.PNG"})
    with pytest.raises(DeepArtError, match="'Aigc/x.jpg': not an image"):
        decode_image({"bytes": b"not an image", "path": "Aigc/x.jpg"})
    with pytest.raises(DeepArtError, match="missing.png"):
        decode_image({"bytes": None, "path": str(tmp_path / "missing.png")})


def test_processor_geometry_reads_vit_and_timm_processors(vit_processor, timm_processor):
    assert processor_geometry(vit_processor) == (64, MEAN, STD)
    size, mean, std = processor_geometry(timm_processor)
    assert size == 48
    assert mean == pytest.approx(timm.data.IMAGENET_DEFAULT_MEAN) and std == pytest.approx(timm.data.IMAGENET_DEFAULT_STD)
    shortest_edge = ViTImageProcessor(size={"shortest_edge": 40}, image_mean=list(MEAN), image_std=list(STD))
    assert processor_geometry(shortest_edge)[0] == 40


def test_resize_mode_gives_the_processor_size_normalised_with_its_statistics(vit_processor, timm_processor):
    colour = np.full((100, 80, 3), (255, 0, 128), dtype=np.uint8)  # one colour: resizing cannot change it
    batch = {"image": [png_value(colour)], "label": [1], "image_id": ["Aigc/a.jpg"]}

    out = build_transform(vit_processor, mode="resize", train=False)(batch)
    assert out["labels"] == [1] and out["image_id"] == ["Aigc/a.jpg"]
    (pixels,) = out["pixel_values"]
    assert pixels.shape == (3, 64, 64) and pixels.dtype == torch.float32
    torch.testing.assert_close(pixels, normalised(colour[:64, :64]))

    (timm_pixels,) = build_transform(timm_processor, train=True)(batch)["pixel_values"]
    mean, std = torch.tensor(timm.data.IMAGENET_DEFAULT_MEAN), torch.tensor(timm.data.IMAGENET_DEFAULT_STD)
    expected = (torch.tensor([1.0, 0.0, 128 / 255]) - mean) / std
    assert timm_pixels.shape == (3, 48, 48)
    torch.testing.assert_close(timm_pixels[:, 0, 0], expected)


def test_crop_mode_keeps_native_pixels():
    pixels = random_pixels(96, 128)
    transform = ImageTransform(64, MEAN, STD, mode="crop")
    (centre,) = transform({"image": [png_value(pixels)]})["pixel_values"]
    torch.testing.assert_close(centre, normalised(pixels[16:80, 32:96]))


def test_several_eval_crops_are_stacked_and_fixed():
    pixels = random_pixels(96, 128)
    five = ImageTransform(64, MEAN, STD, mode="crop", eval_crops=5)
    crops = five.pixel_values(png_value(pixels))
    assert crops.shape == (5, 3, 64, 64)
    assert torch.equal(crops, five.pixel_values(png_value(pixels)))
    torch.testing.assert_close(crops[0], normalised(pixels[:64, :64]))  # corners and centre, in reading order
    torch.testing.assert_close(crops[2], normalised(pixels[16:80, 32:96]))
    torch.testing.assert_close(crops[4], normalised(pixels[32:, 64:]))

    three = ImageTransform(64, MEAN, STD, mode="crop", eval_crops=3).pixel_values(png_value(pixels))
    assert torch.equal(three, crops[[0, 2, 4]])  # centre and two opposite corners
    grid = ImageTransform(64, MEAN, STD, mode="crop", eval_crops=9).pixel_values(png_value(pixels))
    assert grid.shape == (9, 3, 64, 64)
    assert torch.equal(grid[[0, 2, 4, 6, 8]], crops)

    with pytest.raises(DeepArtError, match="need the crop mode"):
        ImageTransform(64, MEAN, STD, mode="resize", eval_crops=5)


def test_training_crops_are_random_and_follow_the_torch_seed():
    value = png_value(random_pixels(96, 128))
    transform = ImageTransform(32, MEAN, STD, mode="crop", train=True)
    torch.manual_seed(0)
    first = [transform.pixel_values(value) for _ in range(4)]
    assert any(not torch.equal(first[0], other) for other in first[1:])
    torch.manual_seed(0)
    assert all(torch.equal(a, transform.pixel_values(value)) for a in first)


def test_an_image_smaller_than_the_crop_is_reflect_padded():
    pixels = random_pixels(40, 50)
    (padded,) = ImageTransform(64, MEAN, STD, mode="crop")({"image": [png_value(pixels)]})["pixel_values"]
    assert padded.shape == (3, 64, 64)
    torch.testing.assert_close(padded[:, 12:52, 7:57], normalised(pixels))
    torch.testing.assert_close(padded[:, 11, 7:57], normalised(pixels)[:, 1])  # a mirror, not zeros


def test_blur_jpeg_with_probability_zero_is_the_identity_and_one_degrades():
    image = Image.fromarray(random_pixels(64, 64))
    assert BlurJpeg(0.0)(image) is image
    degraded = BlurJpeg(1.0, sigma=(1.0, 2.0), quality=(30, 40))(image)
    assert degraded.mode == "RGB" and degraded.size == image.size
    assert np.abs(np.asarray(degraded, dtype=int) - np.asarray(image, dtype=int)).mean() > 10
    with pytest.raises(DeepArtError, match="quality"):
        BlurJpeg(0.5, quality=(0, 100))


def test_blur_jpeg_augments_training_only(vit_processor):
    assert build_transform(vit_processor, train=True, blur_jpeg_prob=0.1).augment.prob == 0.1
    assert build_transform(vit_processor, train=False, blur_jpeg_prob=0.1).augment is None


def test_collate_stacks_single_images_and_crop_stacks():
    examples = [{"pixel_values": torch.zeros(3, 8, 8), "labels": label, "image_id": str(label)} for label in (0, 1)]
    batch = collate(examples)
    assert set(batch) == {"pixel_values", "labels"}  # the model takes no image_id argument
    assert batch["pixel_values"].shape == (2, 3, 8, 8)
    assert batch["labels"].dtype == torch.long and batch["labels"].tolist() == [0, 1]
    crops = collate([{"pixel_values": torch.zeros(5, 3, 8, 8), "labels": 0}] * 2)
    assert crops["pixel_values"].shape == (2, 5, 3, 8, 8)


def test_usage_with_set_transform_and_the_trainer_collator(vit_processor):
    features = Features({"image": ImageFeature(decode=False), "label": Value("int64"), "image_id": Value("string")})
    values = [png_value(random_pixels(70, 90, seed), f"Human/{seed}.png") for seed in range(3)]
    dataset = Dataset.from_dict(
        {"image": values, "label": [0, 1, 0], "image_id": [v["path"] for v in values]}, features=features
    )
    dataset.set_transform(build_transform(vit_processor, mode="resize", train=True))
    assert dataset[1]["image_id"] == "Human/1.png"
    batch = collate([dataset[i] for i in range(len(dataset))])
    assert batch["pixel_values"].shape == (3, 3, 64, 64) and batch["labels"].tolist() == [0, 1, 0]


def test_the_transform_pickles_for_dataloader_workers(vit_processor):
    transform = build_transform(vit_processor, mode="crop", train=False, eval_crops=5)
    value = png_value(random_pixels(96, 96))
    restored = pickle.loads(pickle.dumps(transform))
    assert torch.equal(restored.pixel_values(value), transform.pixel_values(value))
    pickle.dumps(build_transform(vit_processor, train=True, blur_jpeg_prob=0.5))


def test_pre_resize_stores_small_lossless_images_that_give_identical_inputs():
    features = Features({"image": ImageFeature(decode=False), "label": Value("int64")})
    values = [png_value(random_pixels(120, 100, seed), f"Human/{seed}.png") for seed in range(2)]
    dataset = Dataset.from_dict({"image": values, "label": [0, 1]}, features=features)
    resized = pre_resize(dataset.cast_column("image", ImageFeature()), 64)  # decoded or not, it takes either
    assert resized.features == features
    assert [v["path"] for v in resized["image"]] == ["Human/0.png", "Human/1.png"]
    assert decode_image(resized[0]["image"]).size == (64, 64)
    transform = ImageTransform(64, MEAN, STD)
    for original, small in zip(values, resized["image"]):
        assert torch.equal(transform.pixel_values(original), transform.pixel_values(small))


def test_unknown_mode_is_refused():
    assert PREPROCESS_MODES == ("resize", "crop")
    with pytest.raises(DeepArtError, match="unknown preprocessing mode 'squash'"):
        ImageTransform(64, MEAN, STD, mode="squash")
