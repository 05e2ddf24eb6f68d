"""A probe on more than the last layer: a timm backbone whose head reads its pooled final features (what the
ordinary probe reads) concatenated with the globally average-pooled outputs of the stages before the last, as a
saved model can carry it.

Forensic traces of a generator (up-sampling periodicities, colour and texture statistics) are strongest in early
layers and partly pooled away by the last one. The stages are the backbone's own feature map: timm's
``feature_info``, the same modules ``features_only=True`` returns. With ``probe_stages = N``, the head reads the
final features and the N - 1 stages before the last one (the last stage is what the final features are computed
from: a ResNet's final features are its last stage pooled, an EfficientNet's a 1 x 1 convolution of it), so N = 1
is the ordinary probe. For EfficientNet-Lite0 and N = 3: 1280 final + 40 (``blocks.2``, stride 8) + 112
(``blocks.4``, stride 16) = 1432 features.

The stage outputs are read by forward hooks on the stage modules, so the backbone is timm's whole model, with the
same weights and the same forward as the ordinary probe's, and the features and the logits come from one pass.

**A second view of the image** (``resized_view``): the head can also read the features of the input resized to
the backbone's own input size, inside the model, before the features of the input as given. The input is then a
large native-resolution view (the centre 512 pixels, say), where a generator's up-sampling traces survive, and its
resized copy keeps the composition the ImageNet features were learnt at: one tensor in, two views, one head. The
resize is bicubic with antialiasing (PIL's kernel, as a resize processor's), on the normalised pixels (a resize
commutes with the per-channel normalisation). Each view contributes its final features and its stages, resized
view first. The resize is written as two matrix products with PIL's antialiased bicubic weights, the
operation ``F.interpolate(mode="bicubic", antialias=True)`` computes (within 1e-4), because ONNX's TorchScript
exporter has no antialiased resize: so the graph exports with the model.

The classes register for the auto classes, so ``save_pretrained`` copies this file into the model folder:
``pipeline(..., trust_remote_code=True)`` works with transformers and timm alone, and after ``import
deepart_hf.models`` without ``trust_remote_code``. Keep it self-contained (torch, timm and transformers only).
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedConfig, PreTrainedModel
from transformers.modeling_outputs import ImageClassifierOutput

try:  # a crop detector's saved code imports this file; one around a transformers model loads without timm
    import timm
except ImportError:
    timm = None

MODEL_TYPE = "deepart_multi_stage"


def probe_stage_modules(feature_info: list[dict], probe_stages: int) -> list[str]:
    """The names of the stage modules whose pooled outputs join the final features for ``probe_stages`` groups."""
    if probe_stages < 1:
        raise ValueError(f"probe_stages must be at least 1, got {probe_stages}")
    if probe_stages > len(feature_info):
        raise ValueError(f"probe_stages {probe_stages} exceeds the backbone's {len(feature_info)} feature stages")
    return [info["module"] for info in feature_info[len(feature_info) - probe_stages : -1]]


@functools.lru_cache(maxsize=8)
def resize_weights(size_in: int, size_out: int) -> torch.Tensor:
    """(size_out, size_in): PIL's antialiased bicubic resize of one axis (a = -0.5, the kernel widened by the
    downscaling factor, each row normalised), so that ``rows @ image @ columns.T`` resizes an image."""
    scale = size_in / size_out
    widening = max(scale, 1.0)
    support = 2.0 * widening
    weights = np.zeros((size_out, size_in))
    for row in range(size_out):
        centre = (row + 0.5) * scale
        low, high = max(int(centre - support + 0.5), 0), min(int(centre + support + 0.5), size_in)
        x = np.abs((np.arange(low, high) - centre + 0.5) / widening)
        kernel = np.where(x < 1, (1.5 * x - 2.5) * x * x + 1, np.where(x < 2, ((x - 5) * x + 8) * x * -0.5 + 2, 0.0))
        weights[row, low:high] = kernel / kernel.sum()
    return torch.tensor(weights, dtype=torch.float32)


def resize(pixel_values: torch.Tensor, size: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, size, size), bicubic with antialiasing."""
    # int(): an exporter's trace sees the input's size as a tensor; the weights are constants of that size
    rows = resize_weights(int(pixel_values.shape[-2]), size).to(pixel_values)
    columns = resize_weights(int(pixel_values.shape[-1]), size).to(pixel_values)
    return rows @ pixel_values @ columns.T


class MultiStageProbeConfig(PreTrainedConfig):
    r"""
    architecture (`str`): the timm architecture of the backbone.
    pretrained_cfg (`dict`): timm's data config of the backbone (input size, mean, std, interpolation).
    stages (`list[str]`): the stage modules (timm ``feature_info`` names) pooled beside the final features.
    resized_view (`int`, *optional*): when set, the head first reads the features of the input resized to this
        size (bicubic, antialiased), then those of the input as given.
    image_processor_type (`str`): the processor is timm's, read back from ``pretrained_cfg`` in config.json as
        transformers reads a timm model's, so ``AutoImageProcessor`` needs nothing from this package.
    """

    model_type = MODEL_TYPE

    architecture: str = "resnet10t"
    pretrained_cfg: dict | None = None
    stages: list[str] | tuple[str, ...] = ()
    resized_view: int | None = None
    image_processor_type: str = "TimmWrapperImageProcessor"


class MultiStageProbeForImageClassification(PreTrainedModel):
    """timm backbone -> [final pooled features, pooled stage outputs] (of the resized view, then of the input)
    -> a linear head."""

    config_class = MultiStageProbeConfig
    main_input_name = "pixel_values"
    input_modalities = ("image",)

    def __init__(self, config: MultiStageProbeConfig):
        super().__init__(config)
        self.timm_model = timm.create_model(config.architecture, pretrained=False, num_classes=0)
        channels = {info["module"]: info["num_chs"] for info in self.timm_model.feature_info}
        unknown = [name for name in config.stages if name not in channels]
        if unknown:
            raise ValueError(
                f"{config.architecture} has no feature stage {unknown[0]!r} (stages: {', '.join(channels)})"
            )
        self._stage_outputs: dict[str, torch.Tensor] = {}
        for name in config.stages:
            self.timm_model.get_submodule(name).register_forward_hook(self._keeper(name))
        width = self.timm_model.num_features + sum(channels[name] for name in config.stages)
        width *= 2 if config.resized_view else 1
        self.classifier = nn.Linear(width, config.num_labels)
        self.post_init()

    def _keeper(self, name: str):
        def keep(_module, _inputs, output):
            self._stage_outputs[name] = output

        return keep

    def _init_weights(self, module):
        if module is self.classifier:
            module.reset_parameters()  # as timm initialises a new head (reset_classifier)
        # the backbone initialises its own weights (or is loaded from ImageNet's)

    def features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(N, D): the features of the resized view (when the model has one), then of the input as given."""
        if not self.config.resized_view:
            return self.view_features(pixel_values)
        resized = resize(pixel_values, self.config.resized_view)
        return torch.cat([self.view_features(resized), self.view_features(pixel_values)], dim=1)

    def view_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(N, D) of one view: the final pooled features, then each stage's output averaged over its positions."""
        self._stage_outputs.clear()
        final = self.timm_model.forward_head(self.timm_model.forward_features(pixel_values), pre_logits=True)
        stages = [F.adaptive_avg_pool2d(self._stage_outputs[name], 1).flatten(1) for name in self.config.stages]
        self._stage_outputs.clear()
        return torch.cat([final.flatten(1), *stages], dim=1)

    def forward(
        self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None, **kwargs
    ) -> ImageClassifierOutput:
        logits = self.classifier(self.features(pixel_values))
        loss = F.cross_entropy(logits.float(), labels) if labels is not None else None
        return ImageClassifierOutput(loss=loss, logits=logits)


MultiStageProbeConfig.register_for_auto_class()
MultiStageProbeForImageClassification.register_for_auto_class("AutoModelForImageClassification")
