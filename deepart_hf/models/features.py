"""The pooled features a detector's classification head reads: what a linear probe trains on, and where the
familiarity of an image is measured.

They are captured at the head's input (a forward pre-hook on ``classifier_head``) rather than recomputed per
family, so they are exactly what the head sees for every kind of model (timm, ViT, CLIP, the high-pass CNN),
whatever pooling, normalisation or token choice the family makes before its head. A crop detector's head reads
each crop: its features come back per crop, (N, crops, D), and ``image_features`` averages them per image.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import PreTrainedModel

from .heads import classifier_head, classifier_model
from .preprocessing import collate


@contextlib.contextmanager
def _captured_head_inputs(model: PreTrainedModel) -> Iterator[list[torch.Tensor]]:
    """The inputs the classification head receives while the block runs, one tensor per call."""
    captured: list[torch.Tensor] = []

    def capture(_module, inputs):
        captured.append(inputs[0].detach())

    handle = classifier_head(model).register_forward_pre_hook(capture)
    try:
        yield captured
    finally:
        handle.remove()


def _one_call(captured: list[torch.Tensor], model: PreTrainedModel) -> torch.Tensor:
    if len(captured) != 1:
        raise RuntimeError(f"the head of a {type(model).__name__} ran {len(captured)} times for one batch")
    return captured[0].float().flatten(1)


def head_inputs(model: PreTrainedModel, pixel_values: torch.Tensor) -> torch.Tensor:
    """The classification head's input for a batch, float32 on the model's device: (N, D) for a 4-D batch, and
    (N, views, D) for a 5-D batch of views (a crop detector's crops). Gradients are not tracked."""
    classifier = classifier_model(model)
    views = pixel_values.flatten(0, 1) if pixel_values.ndim == 5 else pixel_values
    with _captured_head_inputs(model) as captured, torch.inference_mode():
        classifier(pixel_values=views)
    features = _one_call(captured, classifier)
    if pixel_values.ndim == 5:
        features = features.view(pixel_values.shape[0], pixel_values.shape[1], -1)
    return features


def logits_and_features(model: PreTrainedModel, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's own logits for a batch (a crop detector's crop-averaged ones) and ``image_features``, from one
    forward pass. Runs in the caller's grad mode, so that an exporter can trace it."""
    with _captured_head_inputs(model) as captured:
        logits = model(pixel_values=pixel_values).logits
    return logits, _per_image(_one_call(captured, model), pixel_values)


def _per_image(features: torch.Tensor, pixel_values: torch.Tensor | None) -> torch.Tensor:
    """A crop detector's per-crop head inputs (its batch is 5-D) averaged per image; others' as they are."""
    if pixel_values is not None and pixel_values.ndim == 5:
        return features.view(pixel_values.shape[0], pixel_values.shape[1], -1).mean(dim=1)
    return features


@contextlib.contextmanager
def recorded_image_features(model: PreTrainedModel) -> Iterator[list[torch.Tensor]]:
    """``image_features`` of every batch ``model`` runs while the block runs, one (N, D) float32 CPU tensor per
    forward call in call order: the features of a pass made for the logits (a Trainer's predictions), without
    a second pass over the images. A crop detector's crops are averaged per image, as ``image_features`` does."""
    recorded: list[torch.Tensor] = []
    with _captured_head_inputs(model) as captured:

        def record(_module, args, kwargs, _output):
            features = _one_call(captured, model)
            captured.clear()
            recorded.append(_per_image(features, kwargs.get("pixel_values", args[0] if args else None)).cpu())

        handle = model.register_forward_hook(record, with_kwargs=True)
        try:
            yield recorded
        finally:
            handle.remove()


def image_features(model: PreTrainedModel, pixel_values: torch.Tensor) -> torch.Tensor:
    """One feature vector per image, (N, D): the head's input, averaged over a crop detector's crops."""
    features = head_inputs(model, pixel_values)
    return features.mean(dim=1) if features.ndim == 3 else features


def dataset_features(
    model: PreTrainedModel, dataset, batch_size: int = 16, *, desc: str | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """``image_features`` of every example of a split whose transform gives ``pixel_values`` (a ``Dataset`` or a
    stream), in order, float32 (N, D), with its ``labels`` (None when the split has none). ``desc`` names the
    progress bar."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    features, labels = [], []
    total = len(dataset) if hasattr(dataset, "__len__") else None
    try:
        with tqdm(total=total, desc=desc, unit="image") as bar:
            for batch in DataLoader(dataset, batch_size=batch_size, collate_fn=collate):
                features.append(image_features(model, batch["pixel_values"].to(device)).cpu().numpy())
                if "labels" in batch:
                    labels.append(batch["labels"].numpy())
                bar.update(len(batch["pixel_values"]))
    finally:
        model.train(was_training)
    if not features:
        return np.zeros((0, 0), dtype=np.float32), None
    return np.concatenate(features).astype(np.float32), np.concatenate(labels) if labels else None


__all__ = ["dataset_features", "head_inputs", "image_features", "logits_and_features", "recorded_image_features"]
