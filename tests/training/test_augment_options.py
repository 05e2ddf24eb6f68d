"""--augment: the colour/style-shortcut control and SAFE's jitter, rotation and patch masks, composed as a comma
list, drawn from torch's seed, inside the training transform of both preprocessing modes."""

import pickle

import numpy as np
import pytest
import torch

from deepart_hf.errors import DeepArtError
from deepart_hf.models import create_model
from deepart_hf.training.augment import Augmentation, BlurJpeg, PatchMask, TrainTransform, parse_augment
from helpers import png_value, random_pixels


@pytest.fixture(scope="module")
def processors():
    return {
        "crop": create_model("resnet18", from_scratch=True, image_size=32, preprocess="crop")[1],
        "resize": create_model("resnet18", from_scratch=True, image_size=32)[1],
    }


def colourful(seed=0) -> np.ndarray:
    pixels = random_pixels(64, 64, seed)
    pixels[..., 0] = 255  # strongly red: any colour left shows as channels that differ
    return pixels


def unnormalised(pixels: torch.Tensor, processor) -> torch.Tensor:
    mean = torch.tensor(processor.image_mean if hasattr(processor, "image_mean") else processor.data_config["mean"])
    std = torch.tensor(processor.image_std if hasattr(processor, "image_std") else processor.data_config["std"])
    return pixels * std[:, None, None] + mean[:, None, None]


@pytest.mark.parametrize("mode", ["crop", "resize"])
def test_colour_augmentation_follows_the_torch_seed(mode, processors):
    transform = TrainTransform(processors[mode], parse_augment("color"))
    value = png_value(colourful())
    torch.manual_seed(1)
    first = [transform.pixel_values(value) for _ in range(8)]
    torch.manual_seed(1)
    again = [transform.pixel_values(value) for _ in range(8)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert len({a.sum().item() for a in first}) > 4  # different draws give different pixels


@pytest.mark.parametrize("mode", ["crop", "resize"])
def test_grayscale_draws_remove_the_colour_and_the_others_keep_it(mode, processors):
    processor = processors[mode]
    transform = TrainTransform(processor, parse_augment("color"))
    value = png_value(colourful())
    torch.manual_seed(0)
    spreads = []
    for _ in range(60):
        rgb = unnormalised(transform.pixel_values(value), processor)
        spreads.append((rgb.max(0).values - rgb.min(0).values).abs().max().item())  # channel spread, worst pixel
    gray = [spread < 1e-5 for spread in spreads]
    # RandomGrayscale(p=0.2) over 60 draws: some, not all, lose every trace of colour
    assert 3 <= sum(gray) <= 25, spreads
    plain = TrainTransform(processor)
    rgb = unnormalised(plain.pixel_values(value), processor)
    assert (rgb.max(0).values - rgb.min(0).values).max() > 0.3  # without the option, the colour is there


def test_safe_augmentation_rotates_jitters_and_masks_the_crop(processors):
    augmentation = parse_augment("safe")
    assert [type(op).__name__ for op in augmentation.view] == ["ColorJitter", "RandomRotation"]
    assert [type(op).__name__ for op in augmentation.pixels] == ["PatchMask"]
    transform = TrainTransform(processors["crop"], augmentation)
    torch.manual_seed(0)
    views = [transform.pixel_values(png_value(colourful(seed))) for seed in range(20)]
    assert all(view.shape == (3, 32, 32) for view in views)
    assert pickle.loads(pickle.dumps(transform)).augment.view[1].degrees == [-180.0, 180.0]


def test_patch_mask_zeroes_whole_patches_within_its_ratio():
    mask = PatchMask(ratio=(0.5, 0.5), patch=4, prob=1.0)
    torch.manual_seed(0)
    pixels = mask(torch.ones(3, 16, 16))
    zero = pixels[0] == 0
    assert zero.float().mean() == 0.5  # 8 of 16 patches
    cells = zero.view(4, 4, 4, 4).permute(0, 2, 1, 3).reshape(16, 16)
    assert all(cell.all() or not cell.any() for cell in cells)  # whole patches, never parts
    assert torch.equal(pixels[0], pixels[2])  # the same patches in every channel
    assert torch.equal(PatchMask(prob=0.0)(torch.ones(3, 16, 16)), torch.ones(3, 16, 16))


def test_augment_is_a_comma_list_that_composes_with_blur_jpeg():
    blur = BlurJpeg(0.5)
    augmentation = parse_augment("color, mask", blur)
    assert augmentation.image == [blur]
    assert [type(op).__name__ for op in augmentation.view] == ["RandomApply", "RandomGrayscale"]
    assert [type(op).__name__ for op in augmentation.pixels] == ["PatchMask"]
    assert parse_augment("") is None and parse_augment("none") is None
    assert isinstance(parse_augment("", blur), Augmentation)
    with pytest.raises(DeepArtError, match="unknown --augment 'colour'; choose from color, "):
        parse_augment("colour")
