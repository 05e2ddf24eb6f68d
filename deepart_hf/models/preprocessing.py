"""The preprocessing a detector carries: its saved image processor is the only definition of what it sees.

Two preprocessing modes (``PREPROCESS_MODES``), both stored with the model:

* ``resize`` (as the DeepArt, Dall·E-vs-paintings and genre studies train): a standard transformers processor configured to resize the whole image to the input
  size, no centre crop (``ViTImageProcessor`` with ``size``/``resample``; ``TimmWrapperImageProcessor`` with
  timm's ``crop_mode="squash"``, ``crop_pct=1``). ``pipeline("image-classification", model=RUN)`` applies it
  with transformers alone.
* ``crop``: native-resolution crops, so the low-level traces a generator leaves (up-sampling patterns,
  demosaicing-like noise) survive, as in CNNDetection. No standard processor expresses "average over several
  crops", so the model is a ``CropDetector`` with a ``CropImageProcessor`` (``models/crop_detector.py``).

Evaluation, prediction and the pipeline all call the saved processor itself (``PixelValues``), so a score never
depends on which of them computed it. Training adds its random augmentations around the same operations
(``training/augment.py``).

Every image takes the same path whatever its file format: decode in full (``data.images.decode_image``),
convert to RGB, then the processor. ``Image.draft()`` (JPEG DCT-domain downscaling) is never used: in DeepArt
the AI images are JPEG and the human ones PNG, so a JPEG-only shortcut would resample the two classes
differently and hand the detector a class cue that has nothing to do with who made the image.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torchvision.transforms
import torchvision.transforms.v2.functional as F
from PIL import Image
from transformers import BaseImageProcessor, TimmWrapperImageProcessor
from transformers.image_processing_backends import TorchvisionBackend
from transformers.image_utils import SizeDict

from ..data.images import decode_image
from ..errors import DeepArtError
from .crop_detector import CropImageProcessor

PREPROCESS_MODES = ("resize", "crop")


def preprocess_mode(processor: BaseImageProcessor) -> str:
    return "crop" if isinstance(processor, CropImageProcessor) else "resize"


def processor_geometry(processor: BaseImageProcessor) -> tuple[int, tuple[float, ...], tuple[float, ...]]:
    """(image_size, mean, std) of the pixels a model expects, from its image processor.

    ``TimmWrapperImageProcessor`` keeps timm's resolved data config (``input_size`` is (C, H, W)); the
    transformers processors use ``crop_size`` when they centre-crop, else ``size`` ({"height", "width"}
    or {"shortest_edge"}); a ``CropImageProcessor`` has its ``crop_size``.
    """
    if isinstance(processor, CropImageProcessor):
        return processor.crop_size, tuple(processor.image_mean), tuple(processor.image_std)
    data_config = getattr(processor, "data_config", None)
    if data_config is not None:
        _, height, width = data_config["input_size"]
        mean, std = data_config["mean"], data_config["std"]
    else:
        size = processor.crop_size if getattr(processor, "do_center_crop", False) else processor.size
        size = dict(size or {})
        height = size.get("height") or size.get("shortest_edge")
        width = size.get("width") or height
        mean, std = processor.image_mean, processor.image_std
    if height is None or mean is None or std is None:
        raise DeepArtError(f"{type(processor).__name__} gives no input size, mean and std to preprocess with")
    if height != width:
        raise DeepArtError(
            f"{type(processor).__name__} expects {height}x{width} inputs; only square inputs are supported"
        )
    return int(height), tuple(float(m) for m in mean), tuple(float(s) for s in std)


def describe_preprocessing(processor: BaseImageProcessor) -> str:
    """One line for reports and cards: what the saved processor does to an image."""
    size, _, _ = processor_geometry(processor)
    if isinstance(processor, CropImageProcessor):
        crops = (
            "a centre crop"
            if processor.eval_crops == 1
            else f"{processor.eval_crops} fixed crops, probabilities averaged"
        )
        return f"native resolution, {size}x{size} crops: {crops} (reflect-padded when smaller)"
    interpolation = _interpolation_name(processor)
    return f"whole image resized to {size}x{size} ({interpolation}, no crop)"


def preprocessing_metadata(processor: BaseImageProcessor) -> dict:
    """What the saved processor does, as numbers a consumer without deepart-hf can apply: decode to RGB, then
    ``resize`` (the whole image to size x size with this interpolation) or ``crop`` (``crops`` fixed crops of
    size x size, reflect-padded when smaller), then scale to [0, 1] and normalise with mean and std."""
    size, mean, std = processor_geometry(processor)
    common = {"size": size, "mean": list(mean), "std": list(std), "channels": "RGB, channels first", "rescale": 1 / 255}
    if isinstance(processor, CropImageProcessor):
        return {
            "mode": "crop",
            **common,
            "crops": processor.eval_crops,
            "padding": "reflect, centred, when an image is smaller than size",
            "crop_positions": "crop_detector.eval_crop_offsets: evenly over an odd k x k grid, corner to corner",
            "description": describe_preprocessing(processor),
        }
    return {
        "mode": "resize",
        **common,
        "interpolation": _interpolation_name(processor),
        "center_crop": bool(getattr(processor, "do_center_crop", False)),
        "description": describe_preprocessing(processor),
    }


def _interpolation_name(processor: BaseImageProcessor) -> str:
    data_config = getattr(processor, "data_config", None)
    if data_config is not None:
        return str(data_config.get("interpolation", "bilinear"))
    resample = getattr(processor, "resample", None)
    return getattr(resample, "name", str(resample)).lower()


def whole_image_resizer(processor: BaseImageProcessor) -> Callable[[Image.Image], Image.Image] | None:
    """The processor's own resize step, PIL image in and out, or None when it cannot be run on its own.

    ``pre_resize`` stores images resized by exactly this step; the processor then meets images already at
    its input size, which both backends pass through untouched (Pillow and torchvision return a same-size
    image unchanged), so the pixel values are those of the full-size image.
    """
    if isinstance(processor, CropImageProcessor):
        return None
    if isinstance(processor, TimmWrapperImageProcessor):
        steps = processor.val_transforms.transforms
        resizes = [step for step in steps if isinstance(step, torchvision.transforms.Resize)]
        crops = [step for step in steps if isinstance(step, torchvision.transforms.CenterCrop)]
        size, _, _ = processor_geometry(processor)
        squashes = len(resizes) == 1 and _pair(resizes[0].size) == (size, size)  # an int size is a shortest edge
        if not squashes or any(_pair(crop.size) != (size, size) for crop in crops):
            return None  # an ImageNet-style resize-then-crop: the resize alone would not give the model's input
        return resizes[0]
    if (
        isinstance(processor, TorchvisionBackend)
        and processor.do_resize
        and not getattr(processor, "do_center_crop", False)
    ):
        size = processor.size if isinstance(processor.size, SizeDict) else SizeDict(**processor.size)
        if not (size.height and size.width):
            return None

        def resize(image: Image.Image) -> Image.Image:
            pixels = processor.resize(F.pil_to_tensor(image), size=size, resample=processor.resample)
            return F.to_pil_image(pixels)

        return resize
    return None


def _pair(size) -> tuple | None:
    return tuple(size) if isinstance(size, (tuple, list)) else None


class PixelValues:
    """The ``Dataset.set_transform`` callable for evaluation: undecoded ``image`` values -> the saved processor's
    ``pixel_values``, one tensor per example ((C, H, W), or (crops, C, H, W) for a crop detector), plus
    ``labels`` and ``image_id`` when the batch has them.

    A plain object, so it pickles for DataLoader workers under fork and spawn alike.
    """

    def __init__(self, processor: BaseImageProcessor, pixels=None):
        self.processor = processor
        # A crop detector's crops cut from decoded pixels kept on disk (data/pixel_cache.py) instead of decoding
        # again: the same pixels through the processor's own crop code, so the values are identical.
        self.pixels = pixels if isinstance(processor, CropImageProcessor) else None

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        cached = [self.pixels.array(value) for value in batch["image"]] if self.pixels is not None else []
        if cached and all(pixels is not None for pixels in cached):
            pixel_values = torch.stack([self.processor.crops_from_array(pixels) for pixels in cached])
        else:
            images = [decode_image(value) for value in batch["image"]]
            pixel_values = self.processor(images=images, return_tensors="pt")["pixel_values"]
        outputs = {"pixel_values": list(pixel_values)}
        if "label" in batch:
            outputs["labels"] = batch["label"]
        if "image_id" in batch:
            outputs["image_id"] = batch["image_id"]
        return outputs

    def __repr__(self) -> str:
        return f"PixelValues({describe_preprocessing(self.processor)})"


def collate(examples: list[dict]) -> dict[str, torch.Tensor]:
    """The Trainer's ``data_collator``: stacked ``pixel_values`` and ``labels``; other columns are dropped
    because the model would reject them as keyword arguments."""
    batch = {"pixel_values": torch.stack([example["pixel_values"] for example in examples])}
    if "labels" in examples[0]:
        batch["labels"] = torch.tensor([example["labels"] for example in examples], dtype=torch.long)
    return batch
