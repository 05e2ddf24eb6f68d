"""What training adds around a detector's saved preprocessing: random crops and flips, CNNDetection's blur and
JPEG augmentation, and resizing each image once instead of once per epoch.

Decisions:

* Training runs the same operations as the saved processor (``models/preprocessing.py``): in ``resize`` mode the
  processor itself, in ``crop`` mode the crop detector's own crop and normalisation, with a random position.
  So what the model learned on is what every later user of the saved model gives it.
* Randomness (crops, flips, augmentation) comes from torch's default generator. The Trainer seeds it and the
  DataLoader reseeds it in every worker from the Trainer's seed, so runs repeat and workers differ; a
  generator stored on the transform would be copied verbatim into each worker, which would then all draw the
  same crops.
* Decoding dominates the cost (``benchmarks/decode_speed.py``: a 1024-pixel PNG decodes in ~13 ms, a JPEG in
  ~5 ms), so ``pre_resize`` decodes and resizes a dataset once for ``resize`` mode, and the transforms are plain
  picklable objects for DataLoader workers.
"""

from __future__ import annotations

import hashlib
import io
import logging

import torch
import torchvision.transforms.v2.functional as F
from datasets import Dataset
from datasets import Image as ImageFeature
from PIL import Image, ImageFilter
from transformers import BaseImageProcessor

from ..data.images import decode_image
from ..errors import DeepArtError
from ..models.crop_detector import CropImageProcessor, normalize, reflect_pad
from ..models.preprocessing import preprocess_mode, whole_image_resizer

logger = logging.getLogger(__name__)


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


class TrainTransform:
    """The ``Dataset.set_transform`` callable for training: undecoded ``image`` values -> ``pixel_values``.

    ``resize`` mode: the saved processor on the (augmented) image, then a random horizontal flip.
    ``crop`` mode: one random native-resolution crop of the processor's size (reflect-padded when the image is
    smaller), a random flip, the processor's normalisation.
    """

    def __init__(self, processor: BaseImageProcessor, augment: BlurJpeg | None = None):
        self.processor, self.augment = processor, augment
        self.mode = preprocess_mode(processor)

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        outputs = {"pixel_values": [self.pixel_values(value) for value in batch["image"]]}
        if "label" in batch:
            outputs["labels"] = batch["label"]
        return outputs

    def pixel_values(self, value: dict) -> torch.Tensor:
        image = decode_image(value)
        if self.augment is not None:
            image = self.augment(image)
        if self.mode == "resize":
            pixels = self.processor(images=[image], return_tensors="pt")["pixel_values"][0]
        else:
            pixels = self._random_crop(image)
        return F.horizontal_flip(pixels) if torch.rand(()) < 0.5 else pixels

    def _random_crop(self, image: Image.Image) -> torch.Tensor:
        processor: CropImageProcessor = self.processor
        size = processor.crop_size
        pixels = F.pil_to_tensor(reflect_pad(image, size))
        height, width = pixels.shape[-2:]
        top, left = int(torch.randint(height - size + 1, ())), int(torch.randint(width - size + 1, ()))
        return normalize(F.crop(pixels, top, left, size, size), processor.image_mean, processor.image_std)

    def __repr__(self) -> str:
        return f"TrainTransform({self.mode}, augment={self.augment})"


def _resize_encoded(batch: dict[str, list], resize) -> dict[str, list]:
    images = []
    for value in batch["image"]:
        buffer = io.BytesIO()
        # PNG is lossless: decoding gives back exactly these pixels, whatever format the original had
        resize(decode_image(value)).save(buffer, format="PNG", compress_level=1)
        images.append({"bytes": buffer.getvalue(), "path": value["path"]})
    return {"image": images}


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
    recipe = f"{dataset._fingerprint}|pre_resize|{type(processor).__name__}|{processor.to_json_string()}"
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
