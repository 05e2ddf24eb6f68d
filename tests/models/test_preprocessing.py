"""What a saved processor does is what evaluation does: PixelValues calls the processor itself, and the
processor's resize step alone gives exactly its input size, so resizing once changes no pixel value."""

import io
import pickle

import pytest
import timm
import torch
from datasets import Dataset, Features, Value
from datasets import Image as ImageFeature
from PIL import Image
from transformers import TimmWrapperImageProcessor, ViTImageProcessor

from deepart_hf.errors import DeepArtError
from deepart_hf.models import create_model
from deepart_hf.models.preprocessing import (
    PREPROCESS_MODES,
    PixelValues,
    collate,
    describe_preprocessing,
    preprocess_mode,
    processor_geometry,
    whole_image_resizer,
)
from helpers import png_value, random_pixels

MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)


@pytest.fixture(scope="module")
def processors() -> dict:
    return {
        "vit": create_model("vit-test", from_scratch=True, image_size=64)[1],
        "timm": create_model("resnet18", from_scratch=True, image_size=48)[1],
        "crop": create_model("resnet18", from_scratch=True, image_size=48, preprocess="crop", eval_crops=5)[1],
    }


def test_processor_geometry_reads_every_kind_of_processor(processors):
    assert processor_geometry(processors["vit"]) == (64, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    size, mean, std = processor_geometry(processors["timm"])
    assert size == 48
    assert mean == pytest.approx(timm.data.IMAGENET_DEFAULT_MEAN) and std == pytest.approx(
        timm.data.IMAGENET_DEFAULT_STD
    )
    assert processor_geometry(processors["crop"])[0] == 48
    shortest_edge = ViTImageProcessor(size={"shortest_edge": 40}, image_mean=list(MEAN), image_std=list(STD))
    assert processor_geometry(shortest_edge)[0] == 40
    assert PREPROCESS_MODES == ("resize", "crop")
    assert [preprocess_mode(processors[k]) for k in ("vit", "timm", "crop")] == ["resize", "resize", "crop"]


def test_descriptions_say_what_the_processor_does(processors):
    assert describe_preprocessing(processors["vit"]) == "whole image resized to 64x64 (bicubic, no crop)"
    assert describe_preprocessing(processors["timm"]) == "whole image resized to 48x48 (bicubic, no crop)"
    assert describe_preprocessing(processors["crop"]).startswith("native resolution, 48x48 crops: 5 fixed crops")


@pytest.mark.parametrize("kind", ["vit", "timm", "crop"])
def test_pixel_values_are_the_processors_own(processors, kind):
    values = [png_value(random_pixels(70 + 10 * seed, 90, seed), f"Human/{seed}.png") for seed in range(3)]
    out = PixelValues(processors[kind])({"image": values, "label": [0, 1, 0], "image_id": ["a", "b", "c"]})
    assert out["labels"] == [0, 1, 0] and out["image_id"] == ["a", "b", "c"]
    for value, pixels in zip(values, out["pixel_values"]):
        expected = processors[kind](Image.open(io.BytesIO(value["bytes"])), return_tensors="pt")["pixel_values"][0]
        assert torch.equal(pixels, expected)


@pytest.mark.parametrize("kind", ["vit", "timm"])
def test_resizing_once_gives_the_same_pixel_values_as_the_full_image(processors, kind):
    processor = processors[kind]
    resize = whole_image_resizer(processor)
    size = processor_geometry(processor)[0]
    for seed, shape in enumerate([(300, 200), (31, 90), (64, 64)]):
        image = Image.fromarray(random_pixels(*shape, seed=seed))
        small = resize(image)
        assert small.size == (size, size)
        full = processor(image, return_tensors="pt")["pixel_values"]
        assert torch.equal(processor(small, return_tensors="pt")["pixel_values"], full)


def test_a_processor_that_crops_after_resizing_has_no_resize_step_of_its_own(processors):
    imagenet_style = TimmWrapperImageProcessor(
        dict(timm.create_model("resnet18").pretrained_cfg, input_size=(3, 48, 48)), "resnet18"
    )
    assert whole_image_resizer(imagenet_style) is None  # resize to 54, crop 48: the resize alone is not the input
    assert whole_image_resizer(processors["crop"]) is None


def test_pixel_values_pickle_for_dataloader_workers(processors):
    transform = PixelValues(processors["crop"])
    batch = {"image": [png_value(random_pixels(96, 96))]}
    restored = pickle.loads(pickle.dumps(transform))
    assert torch.equal(restored(batch)["pixel_values"][0], transform(batch)["pixel_values"][0])


def test_collate_stacks_single_images_and_crop_stacks():
    examples = [{"pixel_values": torch.zeros(3, 8, 8), "labels": label, "image_id": str(label)} for label in (0, 1)]
    batch = collate(examples)
    assert set(batch) == {"pixel_values", "labels"}  # the model takes no image_id argument
    assert batch["pixel_values"].shape == (2, 3, 8, 8)
    assert batch["labels"].dtype == torch.long and batch["labels"].tolist() == [0, 1]
    crops = collate([{"pixel_values": torch.zeros(5, 3, 8, 8), "labels": 0}] * 2)
    assert crops["pixel_values"].shape == (2, 5, 3, 8, 8)


def test_usage_with_set_transform_and_the_trainer_collator(processors):
    features = Features({"image": ImageFeature(decode=False), "label": Value("int64"), "image_id": Value("string")})
    values = [png_value(random_pixels(70, 90, seed), f"Human/{seed}.png") for seed in range(3)]
    dataset = Dataset.from_dict(
        {"image": values, "label": [0, 1, 0], "image_id": [v["path"] for v in values]}, features=features
    )
    dataset.set_transform(PixelValues(processors["vit"]))
    assert dataset[1]["image_id"] == "Human/1.png"
    batch = collate([dataset[i] for i in range(len(dataset))])
    assert batch["pixel_values"].shape == (3, 3, 64, 64) and batch["labels"].tolist() == [0, 1, 0]


def test_unknown_mode_is_refused():
    with pytest.raises(DeepArtError, match="unknown preprocessing 'squash'"):
        create_model("vit-test", from_scratch=True, image_size=32, preprocess="squash")
