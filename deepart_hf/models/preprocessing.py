"""Undecoded dataset images -> normalised ``pixel_values``: what every detector sees, train and test.

Two preprocessing modes (``PREPROCESS_MODES``):

* ``resize`` (the seeds): the whole image resized to size x size (bicubic, antialiased); training adds a
  random horizontal flip. A non-square image is squashed rather than cropped, as ``ViTImageProcessor`` does.
* ``crop``: native-resolution crops, so the low-level traces a generator leaves (upsampling patterns,
  demosaicing-like noise) survive, as in CNNDetection. Training takes a random crop plus a flip; evaluation
  a centre crop or, with ``eval_crops=n``, n fixed crops spread symmetrically over the image (5 = the
  centre and the four corners), stacked as (n, C, H, W) for the trainer to average their predictions. An image smaller than the crop is reflect-padded.

Training can add CNNDetection's blur + JPEG augmentation (``BlurJpeg``), on the decoded full-size image.

Decisions:

* A corrupt image met during training fails the run, naming the file (``DeepArtError``). Builds already
  decode every image in full, so a bad one here means the dataset was altered after it was built; skipping
  it would silently train on something other than the published dataset.
* Every image takes the same path whatever its file format: decode in full, convert to RGB, then resize or
  crop in torch. ``Image.draft()`` (JPEG DCT-domain downscaling) is never used: in DeepArt the AI images
  are JPEG and the human ones PNG, so a JPEG-only shortcut would resample the two classes differently
  and hand the detector a class cue that has nothing to do with who made the image.
* Randomness (crops, flips, augmentation) comes from torch's default generator. The DataLoader reseeds it
  in every worker from the Trainer's seed, so runs repeat and workers differ; a generator stored on the
  transform would be copied verbatim into each worker, which would then all draw the same crops.
* Decoding dominates the cost (``benchmarks/decode_speed.py``: a 1024-pixel PNG decodes in ~13 ms, a
  JPEG in ~5 ms, against ~2 ms for resizing and normalising), so the transform is a plain picklable
  object for DataLoader workers, and ``pre_resize`` decodes and resizes a dataset once for ``resize`` mode.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import torch
import torchvision.transforms.v2.functional as F
from datasets import Dataset
from datasets import Image as ImageFeature
from PIL import Image, ImageFilter
from torchvision.transforms.v2 import InterpolationMode

from ..data.images import decode_image
from ..errors import DeepArtError

PREPROCESS_MODES = ("resize", "crop")


def processor_geometry(processor) -> tuple[int, tuple[float, ...], tuple[float, ...]]:
    """(image_size, mean, std) of the pixels a model expects, from its image processor.

    ``TimmWrapperImageProcessor`` keeps timm's resolved data config (``input_size`` is (C, H, W)); the
    transformers processors use ``crop_size`` when they centre-crop, else ``size`` ({"height", "width"}
    or {"shortest_edge"}). timm's ``crop_pct`` is not used: ``resize`` mode keeps the whole image.
    """
    data_config = getattr(processor, "data_config", None)
    if data_config is not None:
        _, height, width = data_config["input_size"]
        mean, std = data_config["mean"], data_config["std"]
    else:
        size = processor.crop_size if getattr(processor, "do_center_crop", False) else processor.size
        height = size.get("height") or size.get("shortest_edge")
        width = size.get("width") or height
        mean, std = processor.image_mean, processor.image_std
    if height is None or mean is None or std is None:
        raise DeepArtError(f"{type(processor).__name__} gives no input size, mean and std to preprocess with")
    if height != width:
        raise DeepArtError(f"{type(processor).__name__} expects {height}x{width} inputs; only square inputs are supported")
    return int(height), tuple(float(m) for m in mean), tuple(float(s) for s in std)


class BlurJpeg:
    """CNNDetection's augmentation (Wang et al., CVPR 2020): Gaussian blur with probability ``prob``
    (sigma ~ U(sigma)), then, independently with the same probability, JPEG re-compression (integer
    quality ~ U(quality), both ends included). PIL image in, RGB PIL image out."""

    def __init__(self, prob: float, sigma: tuple[float, float] = (0.0, 3.0), quality: tuple[int, int] = (30, 100)):
        if not 0.0 <= prob <= 1.0:
            raise DeepArtError(f"blur/JPEG probability must be in [0, 1], got {prob}")
        if not 0.0 <= sigma[0] <= sigma[1]:
            raise DeepArtError(f"blur sigma range must be 0 <= MIN <= MAX, got {sigma}")
        if not 1 <= quality[0] <= quality[1] <= 100:
            raise DeepArtError(f"JPEG quality range must be 1 <= MIN <= MAX <= 100, got {quality}")
        self.prob, self.sigma, self.quality = prob, tuple(sigma), tuple(quality)

    def __call__(self, image: Image.Image) -> Image.Image:
        if torch.rand(()) < self.prob:
            low, high = self.sigma
            sigma = low + (high - low) * torch.rand(()).item()
            image = image.filter(ImageFilter.GaussianBlur(sigma))  # Pillow's radius is the standard deviation
        if torch.rand(()) < self.prob:
            quality = int(torch.randint(self.quality[0], self.quality[1] + 1, ()))
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=quality)
            image = Image.open(buffer).convert("RGB")
        return image

    def __repr__(self) -> str:
        return f"BlurJpeg(prob={self.prob}, sigma={self.sigma}, quality={self.quality})"


def _eval_crop_offsets(height: int, width: int, size: int, n: int) -> list[tuple[int, int]]:
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


def _resize(pixels: torch.Tensor, size: int) -> torch.Tensor:
    # torch's uint8 antialiased bicubic matches Pillow's to within one grey level and is several times faster
    return F.resize(pixels, [size, size], interpolation=InterpolationMode.BICUBIC, antialias=True)


class ImageTransform:
    """The ``Dataset.set_transform`` callable: a batch with ``image`` (undecoded) and ``label`` columns
    -> ``pixel_values`` (one float tensor per example, (C, H, W), or (n, C, H, W) with ``eval_crops=n``)
    and ``labels``. ``image_id`` is passed through when present, so predictions can be written per image.

    A plain object of numbers, so it pickles for DataLoader workers under fork and spawn alike.
    """

    def __init__(
        self,
        image_size: int,
        mean: Sequence[float],
        std: Sequence[float],
        *,
        mode: str = "resize",
        train: bool = False,
        eval_crops: int = 1,
        augment: BlurJpeg | None = None,
    ):
        if mode not in PREPROCESS_MODES:
            raise DeepArtError(f"unknown preprocessing mode {mode!r}; choose one of {', '.join(PREPROCESS_MODES)}")
        if image_size < 1:
            raise DeepArtError(f"image size must be positive, got {image_size}")
        if eval_crops < 1:
            raise DeepArtError(f"eval_crops must be at least 1, got {eval_crops}")
        if eval_crops != 1 and (mode != "crop" or train):
            raise DeepArtError("several evaluation crops (eval_crops > 1) need the crop mode, at evaluation")
        self.image_size, self.mode, self.train, self.eval_crops = image_size, mode, train, eval_crops
        self.mean, self.std = list(mean), list(std)
        self.augment = augment

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        outputs = {"pixel_values": [self.pixel_values(value) for value in batch["image"]]}
        if "label" in batch:
            outputs["labels"] = batch["label"]
        if "image_id" in batch:
            outputs["image_id"] = batch["image_id"]
        return outputs

    def pixel_values(self, value: dict) -> torch.Tensor:
        image = decode_image(value)
        if self.augment is not None:
            image = self.augment(image)
        size = self.image_size
        if self.mode == "resize":
            views = [_resize(F.pil_to_tensor(image), size)]
        else:
            if image.width < size or image.height < size:
                image = self._reflect_pad(image)
            pixels = F.pil_to_tensor(image)
            height, width = pixels.shape[-2:]
            if self.train:
                offsets = [(int(torch.randint(height - size + 1, ())), int(torch.randint(width - size + 1, ())))]
            else:
                offsets = _eval_crop_offsets(height, width, size, self.eval_crops)
            views = [F.crop(pixels, top, left, size, size) for top, left in offsets]
        if self.train and torch.rand(()) < 0.5:
            views = [F.horizontal_flip(view) for view in views]
        normalised = [F.normalize(F.to_dtype(view, torch.float32, scale=True), self.mean, self.std) for view in views]
        return normalised[0] if len(normalised) == 1 else torch.stack(normalised)

    def _reflect_pad(self, image: Image.Image) -> Image.Image:
        # Pillow images are padded through numpy, which reflects as often as needed, even for tiny images.
        # Reflection keeps the border's statistics; zeros would add an edge the detector could learn.
        pad_x, pad_y = max(self.image_size - image.width, 0), max(self.image_size - image.height, 0)
        return F.pad(image, [pad_x // 2, pad_y // 2, pad_x - pad_x // 2, pad_y - pad_y // 2], padding_mode="reflect")

    def __repr__(self) -> str:
        crops = f", eval_crops={self.eval_crops}" if self.eval_crops != 1 else ""
        return f"ImageTransform({self.mode}, size={self.image_size}, train={self.train}{crops}, augment={self.augment})"


def build_transform(
    processor,
    *,
    mode: str = "resize",
    train: bool,
    image_size: int | None = None,
    eval_crops: int = 1,
    blur_jpeg_prob: float = 0.0,
    blur_sigma: tuple[float, float] = (0.0, 3.0),
    jpeg_quality: tuple[int, int] = (30, 100),
) -> ImageTransform:
    """The transform for a model's image processor (its size unless ``image_size``, its mean and std).
    Blur/JPEG augmentation applies to training only."""
    default_size, mean, std = processor_geometry(processor)
    augment = BlurJpeg(blur_jpeg_prob, blur_sigma, jpeg_quality) if train and blur_jpeg_prob > 0 else None
    return ImageTransform(
        image_size or default_size, mean, std, mode=mode, train=train, eval_crops=eval_crops, augment=augment
    )


def collate(examples: list[dict]) -> dict[str, torch.Tensor]:
    """The Trainer's ``data_collator``: stacked ``pixel_values`` and ``labels``; other columns are dropped
    because the model would reject them as keyword arguments."""
    batch = {"pixel_values": torch.stack([example["pixel_values"] for example in examples])}
    if "labels" in examples[0]:
        batch["labels"] = torch.tensor([example["labels"] for example in examples], dtype=torch.long)
    return batch


def _resize_encoded(batch: dict[str, list], image_size: int) -> dict[str, list]:
    images = []
    for value in batch["image"]:
        pixels = _resize(F.pil_to_tensor(decode_image(value)), image_size)
        buffer = io.BytesIO()
        # PNG is lossless: decoding gives back exactly these pixels, whatever format the original had
        F.to_pil_image(pixels).save(buffer, format="PNG", compress_level=1)
        images.append({"bytes": buffer.getvalue(), "path": value["path"]})
    return {"image": images}


def pre_resize(dataset: Dataset, image_size: int, *, num_proc: int | None = None) -> Dataset:
    """``dataset`` with every image decoded and resized to image_size x image_size once, stored as
    lossless PNG under its original path: a ``resize``-mode transform then decodes a small PNG instead of
    the full image and produces exactly the same pixel values, epoch after epoch.

    Not for ``crop`` mode (it needs native resolution) nor with blur/JPEG augmentation (which must see the
    full-size image); the result is cached by ``datasets`` like any ``map``.
    """
    dataset = dataset.cast_column("image", ImageFeature(decode=False))
    return dataset.map(
        _resize_encoded,
        batched=True,
        batch_size=16,
        fn_kwargs={"image_size": image_size},
        features=dataset.features,
        num_proc=num_proc,
        desc=f"decoding and resizing images to {image_size} px",
    )
