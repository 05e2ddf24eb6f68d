"""Detectors that look at native-resolution crops, as a saved model can carry them.

A detector trained on native crops (no resizing, so a generator's low-level traces survive) scores an image by
averaging its probabilities over several fixed crops. No standard transformers class expresses that, so a
crop-mode detector is saved as these three classes, following the Hub's convention for custom code:

* ``CropImageProcessor`` cuts ``eval_crops`` fixed crops of ``crop_size`` pixels from each image (reflect-padding
  images that are too small) and normalises them: ``pixel_values`` of shape (batch, crops, 3, size, size);
* ``CropDetector`` wraps any transformers image classifier (ViT, timm through TimmWrapper) and, given such a
  5-D batch, returns the log of the crop-averaged probabilities as its logits, so that the softmax the
  ``image-classification`` pipeline applies gives exactly the averaged probabilities; a 4-D batch (training on
  random crops) goes straight through the wrapped classifier;
* ``CropDetectorConfig`` holds the wrapped classifier's config.

The classes register for the auto classes, so ``save_pretrained`` copies this file into the model folder:
``pipeline("image-classification", model=FOLDER_OR_ID, trust_remote_code=True)`` works with transformers alone,
and after ``import deepart_hf.models`` (which registers them locally) without ``trust_remote_code``.

This file must stay self-contained (torch, torchvision, PIL, numpy and transformers only, and the self-contained
file of the classifier it may wrap, ``multi_stage.py``): it is what runs on a
machine that has the model but not deepart-hf.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torchvision.transforms.v2.functional as F
from PIL import Image
from transformers import AutoConfig, AutoModelForImageClassification, PreTrainedConfig, PreTrainedModel
from transformers.configuration_utils import SubConfigSpec
from transformers.image_processing_utils import BaseImageProcessor, BatchFeature
from transformers.image_utils import make_flat_list_of_images
from transformers.modeling_outputs import ImageClassifierOutput

from .multi_stage import MultiStageProbeConfig, MultiStageProbeForImageClassification

MODEL_TYPE = "deepart_crop_detector"


# --- crop geometry, shared with training -----------------------------------------------------------------------


def eval_crop_offsets(height: int, width: int, size: int, n: int) -> list[tuple[int, int]]:
    """(top, left) of the n fixed evaluation crops, spread evenly in reading order over a k x k grid of
    positions from corner to corner, k the smallest odd number with k * k >= n.

    1 is the centre crop, 3 the centre and two opposite corners, 5 the centre and the four corners
    (torchvision's FiveCrop), 9 a 3 x 3 grid. The grid is odd so that it has a centre, and any choice is
    symmetric about the image centre: no side of the image weighs more than the other.
    """
    k = math.isqrt(n - 1) + 1
    k += 1 - k % 2
    rows, columns = _spread(height - size, k), _spread(width - size, k)
    grid = [(top, left) for top in rows for left in columns]
    if n == 1:
        return grid
    # round-half-to-even keeps the picks symmetric, as len(grid) - 1 is even
    return [grid[round(i * (len(grid) - 1) / (n - 1))] for i in range(n)]


def _spread(span: int, k: int) -> list[int]:
    return [round(i * span / (k - 1)) for i in range(k)] if k > 1 else [round(span / 2)]


def reflect_pad(image: Image.Image, size: int) -> Image.Image:
    """An image smaller than the crop, reflect-padded to at least size x size (centred).

    Reflection keeps the border's statistics; zeros would add an edge the detector could learn.
    """
    if image.width >= size and image.height >= size:
        return image
    return Image.fromarray(reflect_pad_array(np.asarray(image), size))


def reflect_pad_array(pixels: np.ndarray, size: int) -> np.ndarray:
    """``reflect_pad`` on (height, width, channels) uint8 pixels; returns ``pixels`` itself when large enough."""
    height, width = pixels.shape[:2]
    pad_x, pad_y = max(size - width, 0), max(size - height, 0)
    if not pad_x and not pad_y:
        return pixels
    # numpy reflects as often as needed, even for images many times smaller than the crop
    return np.pad(
        pixels,
        ((pad_y // 2, pad_y - pad_y // 2), (pad_x // 2, pad_x - pad_x // 2), (0, 0)),
        mode="reflect" if min(height, width) > 1 else "edge",
    )


def crop_array(pixels: np.ndarray, top: int, left: int, size: int) -> torch.Tensor:
    """One (3, size, size) uint8 crop of (height, width, 3) pixels, copied out (the pixels may be a read-only
    memory map) into a contiguous channels-first tensor: NumPy's transposing copy is fast, while
    torch's strided uint8 copies of a permuted view (stacking, normalising) are orders of magnitude slower."""
    return torch.from_numpy(np.ascontiguousarray(pixels[top : top + size, left : left + size].transpose(2, 0, 1)))


def normalize(pixels: torch.Tensor, mean, std) -> torch.Tensor:
    """uint8 (..., 3, H, W) -> float32 scaled to [0, 1] and normalised."""
    return F.normalize(F.to_dtype(pixels, torch.float32, scale=True), list(mean), list(std))


def as_rgb(image) -> Image.Image:
    if not isinstance(image, Image.Image):
        array = image.numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
        if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
            array = array.transpose(1, 2, 0)  # channels first -> last
        if array.dtype != np.uint8:
            array = np.clip(np.rint(array * 255 if array.max() <= 1 else array), 0, 255).astype(np.uint8)
        image = Image.fromarray(array.squeeze(-1) if array.ndim == 3 and array.shape[-1] == 1 else array)
    return image if image.mode == "RGB" else image.convert("RGB")


def crop_averaged_logits(classify, pixel_values: torch.Tensor) -> torch.Tensor:
    """``classify`` (4-D views -> logits) on a batch; a 5-D batch (batch, crops, C, H, W) gives the log of each
    image's crop-averaged probabilities, so that the softmax the pipeline applies gives that mean back exactly."""
    if pixel_values.ndim != 5:
        return classify(pixel_values)
    batch, crops = pixel_values.shape[:2]
    log_probs = classify(pixel_values.flatten(0, 1)).float().log_softmax(-1).view(batch, crops, -1)
    return torch.logsumexp(log_probs, dim=1) - math.log(crops)


# --- the three auto classes -------------------------------------------------------------------------------------


class CropImageProcessor(BaseImageProcessor):
    """Images -> ``pixel_values`` (batch, eval_crops, 3, crop_size, crop_size) of fixed native-resolution crops."""

    model_input_names = ["pixel_values"]

    def __init__(
        self,
        crop_size: int = 224,
        eval_crops: int = 1,
        image_mean: list[float] | None = None,
        image_std: list[float] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if crop_size < 1 or eval_crops < 1:
            raise ValueError(f"crop_size and eval_crops must be positive, got {crop_size} and {eval_crops}")
        self.crop_size = int(crop_size)
        self.eval_crops = int(eval_crops)
        self.image_mean = list(image_mean if image_mean is not None else (0.5, 0.5, 0.5))
        self.image_std = list(image_std if image_std is not None else (0.5, 0.5, 0.5))

    def crops(self, image, eval_crops: int | None = None) -> torch.Tensor:
        """One image -> (n, 3, size, size) normalised crops."""
        return self.crops_from_array(np.asarray(as_rgb(image)), eval_crops)

    def crops_from_array(self, pixels: np.ndarray, eval_crops: int | None = None) -> torch.Tensor:
        """``crops`` of an RGB image given as (height, width, 3) uint8 pixels (decoded pixels kept in a cache)."""
        size = self.crop_size
        pixels = reflect_pad_array(pixels, size)
        height, width = pixels.shape[:2]
        offsets = eval_crop_offsets(height, width, size, eval_crops or self.eval_crops)
        views = torch.stack([crop_array(pixels, top, left, size) for top, left in offsets])
        return normalize(views, self.image_mean, self.image_std)

    def preprocess(self, images, return_tensors="pt", eval_crops: int | None = None, **kwargs) -> BatchFeature:
        if return_tensors not in ("pt", None):
            raise ValueError(f"CropImageProcessor returns PyTorch tensors only, not {return_tensors!r}")
        images = make_flat_list_of_images(images) if not isinstance(images, Image.Image) else [images]
        pixel_values = torch.stack([self.crops(image, eval_crops) for image in images])
        return BatchFeature({"pixel_values": pixel_values}, tensor_type="pt")


class CropDetectorConfig(PreTrainedConfig):
    r"""
    detector_config (`dict` or `PreTrainedConfig`):
        The config of the wrapped image classifier (any model type of ``AutoModelForImageClassification``).
    """

    model_type = MODEL_TYPE
    # Only SubConfigSpec gives an AutoConfig sub-config a default model type (tests/data/test_internals.py)
    sub_configs_defaults = {"detector_config": SubConfigSpec(config_class=AutoConfig, model_type="vit")}

    detector_config: dict | PreTrainedConfig | None = None


class CropDetector(PreTrainedModel):
    """An image classifier that averages its probabilities over the crops of each image."""

    config_class = CropDetectorConfig
    base_model_prefix = "detector"
    main_input_name = "pixel_values"
    input_modalities = ("image",)

    def __init__(self, config: CropDetectorConfig):
        super().__init__(config)
        detector_config = config.detector_config
        if {int(k): v for k, v in detector_config.id2label.items()} != {int(k): v for k, v in config.id2label.items()}:
            # A saved nested config does not always keep its labels (a timm wrapper's come back as the 2 defaults);
            # the wrapper's are the model's, and size the head of an attribution model's K classes.
            detector_config.id2label = {int(k): v for k, v in config.id2label.items()}
            detector_config.label2id = dict(config.label2id)
        self.detector = AutoModelForImageClassification.from_config(detector_config)
        self.post_init()

    def _init_weights(self, module):
        pass  # the wrapped classifier initialised its own weights; this wrapper adds none

    def forward(
        self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None, **kwargs
    ) -> ImageClassifierOutput:
        logits = crop_averaged_logits(lambda views: self.detector(pixel_values=views).logits, pixel_values)
        loss = torch.nn.functional.cross_entropy(logits.float(), labels) if labels is not None else None
        return ImageClassifierOutput(loss=loss, logits=logits)


CropDetectorConfig.register_for_auto_class()
CropDetector.register_for_auto_class("AutoModelForImageClassification")
CropImageProcessor.register_for_auto_class()

# The classifier a crop detector may wrap whose code is not transformers' own: saving a crop detector copies its
# file beside this one (transformers copies a model file's relative imports), and loading it as remote code
# registers it here, before the wrapped config is read (multi_stage.py imports timm only where it is installed).
AutoConfig.register(MultiStageProbeConfig.model_type, MultiStageProbeConfig, exist_ok=True)
AutoModelForImageClassification.register(MultiStageProbeConfig, MultiStageProbeForImageClassification, exist_ok=True)
