"""What training and the model card need to know about a built detector: its head, its parameters, its input."""

from __future__ import annotations

from typing import Any

import timm.data
from torch import nn
from transformers import BaseImageProcessor, PreTrainedModel, TimmWrapperConfig, TimmWrapperForImageClassification

from ..errors import DeepArtError
from .factory import BASE_MODEL_ATTR, FROM_SCRATCH


def _classifier(model: PreTrainedModel) -> nn.Module:
    if isinstance(model, TimmWrapperForImageClassification):
        return model.timm_model.get_classifier()
    head = getattr(model, "classifier", None)
    if not isinstance(head, nn.Module):
        raise DeepArtError(f"cannot find the classification head of a {type(model).__name__}")
    return head


def freeze_backbone(model: PreTrainedModel) -> None:
    """Train only the classification head (a linear probe)."""
    model.requires_grad_(False)
    _classifier(model).requires_grad_(True)


def unfreeze_all(model: PreTrainedModel) -> None:
    model.requires_grad_(True)


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def describe_model(model: PreTrainedModel, processor: BaseImageProcessor | None = None) -> dict[str, Any]:
    """What the model card says about a detector.

    A ViT's mean/std live in its image processor, so pass it to have them; a timm model carries its own.
    """
    config = model.config
    if isinstance(config, TimmWrapperConfig):
        data = timm.data.resolve_data_config(config.pretrained_cfg)
        family, architecture = "timm", config.architecture
        image_size, mean, std = data["input_size"][-1], list(data["mean"]), list(data["std"])
    else:
        family = config.model_type
        architecture = type(model).__name__
        if config.model_type == "vit":
            architecture += (
                f" (hidden {config.hidden_size}, {config.num_hidden_layers} layers, "
                f"{config.num_attention_heads} heads, patch {config.patch_size})"
            )
        image_size = getattr(config, "image_size", None)
        mean = list(processor.image_mean) if processor is not None else None
        std = list(processor.image_std) if processor is not None else None
        if processor is not None and "height" in (processor.size or {}):
            image_size = processor.size["height"]
    return {
        "family": family,
        "architecture": architecture,
        "base_model": getattr(config, BASE_MODEL_ATTR, None) or FROM_SCRATCH,
        "image_size": image_size,
        "mean": mean,
        "std": std,
        "parameters": count_parameters(model)[1],
    }
