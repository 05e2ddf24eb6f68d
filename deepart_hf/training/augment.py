"""What training adds around a detector's saved preprocessing: random crops and flips, CNNDetection's blur and
JPEG augmentation, the ``--augment`` set (colour/style control, SAFE's rotation and patch masks), and resizing
each image once instead of once per epoch.

Decisions:

* Training runs the same operations as the saved processor (``models/preprocessing.py``): in ``resize`` mode the
  processor itself, in ``crop`` mode the crop detector's own crop and normalisation, with a random position.
  So what the model learned on is what every later user of the saved model gives it.
* Randomness (crops, flips, augmentation) comes from torch's default generator. The Trainer's dataloader seeds
  it for each example from (seed, epoch, index) (``training/example_seeds.py``), so an example's views do not
  depend on the worker that reads it or on where a run was interrupted and resumed; a stream, which has no
  indices, draws from each worker's generator as the DataLoader seeds it. A generator stored on the transform
  would be copied verbatim into each worker, which would then all draw the same crops.
* Decoding dominates the cost (a full-size PNG decodes in far longer than a crop is cut; figures in
  benchmarks/README.md, "Per-image costs and the data pipeline"), so ``pre_resize`` decodes and resizes a dataset once for ``resize`` mode, and the transforms are plain
  picklable objects for DataLoader workers.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
import torch
import torchvision.transforms.v2.functional as F
from datasets import Dataset
from datasets import Image as ImageFeature
from PIL import Image, ImageFilter
from torchvision.transforms import v2
from transformers import BaseImageProcessor

from ..data.images import decode_image
from ..data.internals import split_fingerprint
from ..data.pixel_cache import PixelCache
from ..errors import DeepArtError
from ..models.crop_detector import CropImageProcessor, crop_array, normalize, reflect_pad_array
from ..models.preprocessing import preprocess_mode, whole_image_resizer

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def seeded(seed: int):
    """torch's default generator seeded for the draws made inside, and given back as it was afterwards (CPU only:
    the transforms draw there, and a DataLoader worker must not initialise CUDA)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


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


class PatchMask:
    """SAFE's patch masking (Li et al., KDD 2025, ``RandomMask``): with probability ``prob``, zero a random set of
    distinct ``patch`` x ``patch`` grid cells covering a fraction ~ U(ratio) of the view, so the detector must
    judge from local regions. (C, H, W) tensor in and out; zero is black for SAFE's [0, 1] pixels, the mean
    colour for normalised ones."""

    def __init__(self, ratio: tuple[float, float] = (0.0, 0.75), patch: int = 16, prob: float = 0.5):
        if not 0.0 <= ratio[0] <= ratio[1] <= 1.0:
            raise DeepArtError(f"mask ratio range must be 0 <= MIN <= MAX <= 1, got {ratio}")
        self.ratio, self.patch, self.prob = tuple(ratio), patch, prob

    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        if torch.rand(()) >= self.prob:
            return pixels
        rows, columns = pixels.shape[-2] // self.patch, pixels.shape[-1] // self.patch
        low, high = self.ratio
        ratio = low + (high - low) * torch.rand(()).item()
        count = int(pixels.shape[-2] * pixels.shape[-1] * ratio / self.patch**2)
        keep = torch.ones(rows * columns, dtype=pixels.dtype)
        keep[torch.randperm(rows * columns)[: min(count, rows * columns)]] = 0
        keep = keep.view(rows, columns).repeat_interleave(self.patch, 0).repeat_interleave(self.patch, 1)
        mask = torch.ones(pixels.shape[-2:], dtype=pixels.dtype)
        mask[: keep.shape[0], : keep.shape[1]] = keep
        return pixels * mask

    def __repr__(self) -> str:
        return f"PatchMask(ratio={self.ratio}, patch={self.patch}, prob={self.prob})"


def _colour() -> list:
    # SimCLR's colour distortion (Chen et al., ICML 2020, strength 0.5: jitter 0.4/0.4/0.4/0.1 with p 0.8,
    # grayscale p 0.2): style and palette stop being a class cue, as the DeepArt paper asks ("process a unified
    # style into a non-uniform colour style").
    return [v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8), v2.RandomGrayscale(p=0.2)]


# SAFE's training augmentation (official code, Ouxiang-Li/SAFE data/datasets.py): ColorJitter(0.5, 0.5, 0.5),
# RandomRotation(180) (nearest neighbour, black corners), and RandomMask(ratio U(0, 0.75), 16-px patches, p 0.5).
AUGMENTATIONS = {
    # name -> (ops on the view, ops on the normalised pixels)
    "color": lambda: (_colour(), []),
    "jitter": lambda: ([v2.ColorJitter(0.5, 0.5, 0.5)], []),
    "rotate": lambda: ([v2.RandomRotation(180)], []),
    "mask": lambda: ([], [PatchMask()]),
    "safe": lambda: ([v2.ColorJitter(0.5, 0.5, 0.5), v2.RandomRotation(180)], [PatchMask()]),
}


class Augmentation:
    """Training augmentations in three places: ``image`` ops on the decoded full-size image (blur/JPEG), ``view``
    ops on what the model will see before normalisation (colour, rotation: the uint8 crop in ``crop`` mode, the
    image handed to the processor in ``resize`` mode), ``pixels`` ops on the normalised tensor (patch masks)."""

    def __init__(self, image: list | None = None, view: list | None = None, pixels: list | None = None):
        self.image, self.view, self.pixels = list(image or []), list(view or []), list(pixels or [])

    def __bool__(self) -> bool:
        return bool(self.image or self.view or self.pixels)

    @staticmethod
    def _apply(ops: list, value):
        for op in ops:
            value = op(value)
        return value

    def on_image(self, image):
        return self._apply(self.image, image)

    def on_view(self, view):
        return self._apply(self.view, view)

    def on_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        return self._apply(self.pixels, pixels)

    def __repr__(self) -> str:
        return f"Augmentation(image={self.image}, view={self.view}, pixels={self.pixels})"


def parse_augment(names: str | None, blur_jpeg: BlurJpeg | None = None) -> Augmentation | None:
    """``--augment`` (a comma list of ``AUGMENTATIONS``, applied in that order) plus the blur/JPEG augmentation."""
    augmentation = Augmentation(image=[blur_jpeg] if blur_jpeg is not None else [])
    for name in (part.strip() for part in (names or "").split(",")):
        if not name or name == "none":
            continue
        if name not in AUGMENTATIONS:
            raise DeepArtError(f"unknown --augment {name!r}; choose from {', '.join(AUGMENTATIONS)} (comma-separated)")
        view, pixels = AUGMENTATIONS[name]()
        augmentation.view += view
        augmentation.pixels += pixels
    return augmentation or None


class TrainTransform:
    """The ``Dataset.set_transform`` callable for training: undecoded ``image`` values -> ``pixel_values``.

    ``resize`` mode: the saved processor on the (augmented) image, then a random horizontal flip.
    ``crop`` mode: one random native-resolution crop of the processor's size (reflect-padded when the image is
    smaller), a random flip, the processor's normalisation.
    """

    def __init__(
        self,
        processor: BaseImageProcessor,
        augment: Augmentation | BlurJpeg | None = None,
        pixels: PixelCache | None = None,
    ):
        if augment is not None and not isinstance(augment, Augmentation):
            augment = Augmentation(image=[augment])
        self.processor, self.augment = processor, augment or Augmentation()
        self.mode = preprocess_mode(processor)
        self.pixels = pixels  # decoded images, read instead of decoding again (data/pixel_cache.py)

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        outputs = {"pixel_values": [self.pixel_values(value) for value in batch["image"]]}
        if "label" in batch:
            outputs["labels"] = batch["label"]
        return outputs

    def pixel_values(self, value: dict, flip: bool | None = None) -> torch.Tensor:
        """One training view of an undecoded image; ``flip`` fixes the mirroring (None: drawn at random)."""
        cached = (
            self.pixels.array(value)
            if self.pixels is not None and self.mode == "crop" and not self.augment.image
            else None
        )
        if cached is not None:
            pixels = self._random_crop(cached)  # straight from the memory map: no full-size copy
        else:
            # Augmentations of the whole image (blur/JPEG) get the whole decoded image, from the cache when there is one.
            image = self.augment.on_image(self.pixels.image(value) if self.pixels is not None else decode_image(value))
            if self.mode == "resize":
                image = self.augment.on_view(image)
                pixels = self.processor(images=[image], return_tensors="pt")["pixel_values"][0]
            else:
                pixels = self._random_crop(np.asarray(image))
        if flip is None:
            flip = bool(torch.rand(()) < 0.5)
        pixels = F.horizontal_flip(pixels) if flip else pixels
        return self.augment.on_pixels(pixels)

    def _random_crop(self, pixels: np.ndarray) -> torch.Tensor:
        """(height, width, 3) uint8 pixels -> one normalised random crop (reflect-padded when smaller)."""
        processor: CropImageProcessor = self.processor
        size = processor.crop_size
        pixels = reflect_pad_array(pixels, size)
        height, width = pixels.shape[:2]
        top, left = int(torch.randint(height - size + 1, ())), int(torch.randint(width - size + 1, ()))
        view = self.augment.on_view(crop_array(pixels, top, left, size))
        return normalize(view, processor.image_mean, processor.image_std)

    def __repr__(self) -> str:
        return f"TrainTransform({self.mode}, augment={self.augment}, pixels={self.pixels})"


def _resize_one(value: dict, resize) -> dict:
    buffer = io.BytesIO()
    # PNG is lossless: decoding gives back exactly these pixels, whatever format the original had
    resize(decode_image(value)).save(buffer, format="PNG", compress_level=1)
    return {"bytes": buffer.getvalue(), "path": value["path"]}


def _resize_encoded(batch: dict[str, list], resize) -> dict[str, list]:
    # Pillow releases the GIL while it decodes, resizes and compresses, so threads use every core without the
    # start-up cost of datasets' worker processes (which a run's first, cold pass would pay).
    with ThreadPoolExecutor(max_workers=min(len(batch["image"]), os.cpu_count() or 1)) as pool:
        return {"image": list(pool.map(partial(_resize_one, resize=resize), batch["image"]))}


def pre_resize(dataset: Dataset, processor: BaseImageProcessor, *, num_proc: int | None = None) -> Dataset:
    """``dataset`` with every image decoded and resized once by the processor's own resize step, stored as
    lossless PNG under its original path. The processor then passes these images through unresized, so the
    pixel values are exactly those of the full-size image, epoch after epoch, at a fraction of the decoding cost.

    Returns ``dataset`` unchanged when the processor's resize cannot be run on its own (a crop detector, or a
    Hub processor that resizes and then centre-crops). Not for training with blur/JPEG augmentation, which must
    see the full-size image. The result is cached by ``datasets`` under a fingerprint of the dataset and the
    processor, so later runs on the same data reuse it.
    """
    resize = whole_image_resizer(processor)
    if resize is None:
        return dataset
    dataset = dataset.cast_column("image", ImageFeature(decode=False))
    # keyed by the input's datasets fingerprint, which no public API exposes, so changed data is resized again
    recipe = f"{split_fingerprint(dataset)}|pre_resize|{type(processor).__name__}|{processor.to_json_string()}"
    return dataset.map(
        _resize_encoded,
        batched=True,
        batch_size=16,
        fn_kwargs={"resize": resize},
        features=dataset.features,
        num_proc=num_proc,
        new_fingerprint=hashlib.sha256(recipe.encode()).hexdigest()[:32],
        desc="decoding and resizing images once",
    )


def training_augmentation(data) -> Augmentation | None:
    """The augmentation a run's ``DataArguments`` ask for: ``--augment`` plus ``--blur_jpeg_prob``."""
    from .arguments import parse_range

    blur_jpeg = None
    if data.blur_jpeg_prob > 0:
        blur_jpeg = BlurJpeg(
            data.blur_jpeg_prob,
            parse_range(data.blur_sigma, "blur_sigma"),
            parse_range(data.jpeg_quality, "jpeg_quality", int),
        )
    return parse_augment(data.augment, blur_jpeg)
