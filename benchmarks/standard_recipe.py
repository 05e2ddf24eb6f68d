"""The transformers image-classification example's data pipeline, the reference the benchmarks compare with:
``set_transform`` with torchvision ``RandomResizedCrop`` + flip + normalise for training (``crop``: ``RandomCrop`` at
native resolution), ``Resize`` + ``CenterCrop`` (crop: ``CenterCrop``) for evaluation, every image decoded at every
step. Only torch and torchvision here, so a script timing the recipe's start-up imports no more than it does."""

import torch
from torchvision.transforms import v2


class StandardTransform:
    """The example's ``train_transforms``/``val_transforms`` on a batch of decoded PIL images."""

    def __init__(self, transform):
        self.transform = transform

    def __call__(self, batch):
        return {
            "pixel_values": [self.transform(image.convert("RGB")) for image in batch["image"]],
            "labels": batch["label"],
        }


def standard_transforms(mode: str, size: int, mean, std):
    tail = [v2.PILToTensor(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)]
    if mode == "resize":
        return v2.Compose([v2.RandomResizedCrop(size), v2.RandomHorizontalFlip(), *tail]), v2.Compose(
            [v2.Resize(size), v2.CenterCrop(size), *tail]
        )
    return v2.Compose(
        [v2.RandomCrop(size, pad_if_needed=True, padding_mode="reflect"), v2.RandomHorizontalFlip(), *tail]
    ), v2.Compose([v2.CenterCrop(size), *tail])
