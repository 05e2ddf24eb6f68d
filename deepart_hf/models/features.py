"""The pooled features a detector's classification head reads: what a linear probe trains on, and where the
familiarity of an image is measured.

They are captured at the head's input (a forward pre-hook on ``classifier_head``) rather than recomputed per
family, so they are exactly what the head sees for every kind of model (timm, ViT, CLIP, the high-pass CNN),
whatever pooling, normalisation or token choice the family makes before its head. A crop detector's head reads
each crop: its features come back per crop, (N, crops, D), and ``image_features`` averages them per image.
"""

from __future__ import annotations

import torch
from transformers import PreTrainedModel

from .heads import classifier_head, classifier_model


def head_inputs(model: PreTrainedModel, pixel_values: torch.Tensor) -> torch.Tensor:
    """The classification head's input for a batch, float32 on the model's device: (N, D) for a 4-D batch, and
    (N, views, D) for a 5-D batch of views (a crop detector's crops). Gradients are not tracked."""
    classifier = classifier_model(model)
    head = classifier_head(model)
    captured: list[torch.Tensor] = []

    def capture(_module, inputs):
        captured.append(inputs[0].detach())

    views = pixel_values.flatten(0, 1) if pixel_values.ndim == 5 else pixel_values
    handle = head.register_forward_pre_hook(capture)
    try:
        with torch.inference_mode():
            classifier(pixel_values=views)
    finally:
        handle.remove()
    if len(captured) != 1:
        raise RuntimeError(f"the head of a {type(classifier).__name__} ran {len(captured)} times for one batch")
    features = captured[0].float().flatten(1)
    if pixel_values.ndim == 5:
        features = features.view(pixel_values.shape[0], pixel_values.shape[1], -1)
    return features


def image_features(model: PreTrainedModel, pixel_values: torch.Tensor) -> torch.Tensor:
    """One feature vector per image, (N, D): the head's input, averaged over a crop detector's crops."""
    features = head_inputs(model, pixel_values)
    return features.mean(dim=1) if features.ndim == 3 else features


__all__ = ["head_inputs", "image_features"]
