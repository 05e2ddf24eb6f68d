"""What training and the model card need to know about a built detector: its head, and what it is."""

from __future__ import annotations

from typing import Any

import timm.data
from torch import nn
from transformers import BaseImageProcessor, PreTrainedModel, TimmWrapperConfig, TimmWrapperForImageClassification

from ..errors import DeepArtError
from .crop_detector import CropDetector
from .factory import BASE_MODEL_ATTR, FROM_SCRATCH
from .multi_stage import MultiStageProbeConfig
from .preprocessing import processor_geometry


def classifier_model(model: PreTrainedModel) -> PreTrainedModel:
    """The image classifier itself: a crop detector's wrapped model, or the model."""
    return model.detector if isinstance(model, CropDetector) else model


def classifier_head(model: PreTrainedModel) -> nn.Module:
    model = classifier_model(model)
    if isinstance(model, TimmWrapperForImageClassification):
        return model.timm_model.get_classifier()
    head = getattr(model, "classifier", None)
    if not isinstance(head, nn.Module):
        raise DeepArtError(f"cannot find the classification head of a {type(model).__name__}")
    return head


# Hooks that hold a frozen backbone's batch-norm layers in inference mode, by model.
_FROZEN_NORMS = "_deepart_frozen_norm_hooks"


def _stay_in_inference_mode(module: nn.Module, _inputs) -> None:
    module.train(False)


def freeze_backbone(model: PreTrainedModel) -> None:
    """Train only the classification head (a linear probe).

    The features are frozen whole: batch-norm layers outside the head keep normalising with their pretrained
    running statistics and stop updating them, even while the Trainer puts the model in training mode (with
    batch statistics a probe would learn on features that move with every batch and differ from the ones it
    is evaluated on)."""
    unfreeze_norms(model)
    model.requires_grad_(False)
    head = classifier_head(model)
    head.requires_grad_(True)
    in_head = {id(module) for module in head.modules()}
    hooks = [
        module.register_forward_pre_hook(_stay_in_inference_mode)
        for module in model.modules()
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and id(module) not in in_head
    ]
    setattr(model, _FROZEN_NORMS, hooks)


def unfreeze_norms(model: PreTrainedModel) -> None:
    for hook in getattr(model, _FROZEN_NORMS, []):
        hook.remove()
    if hasattr(model, _FROZEN_NORMS):
        delattr(model, _FROZEN_NORMS)


def unfreeze_all(model: PreTrainedModel) -> None:
    model.requires_grad_(True)
    unfreeze_norms(model)


def describe_model(model: PreTrainedModel, processor: BaseImageProcessor | None = None) -> dict[str, Any]:
    """What the model card says about a detector: family, architecture, initial weights, input, size.

    The input (size, mean, std) is read from the image processor saved with the model when it is given; a timm
    model also carries its own.
    """
    base_model = getattr(model.config, BASE_MODEL_ATTR, None) or FROM_SCRATCH
    model = classifier_model(model)
    config = model.config
    image_size, mean, std = getattr(config, "image_size", None), None, None
    if isinstance(config, (TimmWrapperConfig, MultiStageProbeConfig)):
        family, architecture = "timm", config.architecture
        if isinstance(config, MultiStageProbeConfig):
            stages = f" + pooled {', '.join(config.stages)}" if config.stages else ""
            view = f" of the input resized to {config.resized_view} and as given" if config.resized_view else ""
            architecture += f" (head on the final features{stages}{view})"
        data = timm.data.resolve_data_config(config.pretrained_cfg)
        image_size, mean, std = data["input_size"][-1], data["mean"], data["std"]
    else:
        family, architecture = config.model_type, type(model).__name__
        if config.model_type == "vit":
            architecture += (
                f" (hidden {config.hidden_size}, {config.num_hidden_layers} layers, "
                f"{config.num_attention_heads} heads, patch {config.patch_size})"
            )
    if processor is not None:
        image_size, mean, std = processor_geometry(processor)
    return {
        "family": family,
        "architecture": architecture,
        "base_model": base_model,
        "image_size": image_size,
        "mean": list(mean) if mean is not None else None,
        "std": list(std) if std is not None else None,
        "parameters": model.num_parameters(),
    }
