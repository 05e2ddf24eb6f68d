"""Small CNNs trained from scratch on an image's high frequencies: SAFE (wavelet bands) and NPR (neighbouring-pixel
residuals), as a saved model can carry them.

Both recipes come from the same code base and share one network (``Ouxiang-Li/SAFE``, ``models/resnet.py``, which
keeps NPR's ``_preprocess_NPR`` beside its own DWT): a ResNet-50 cut after its second stage (Bottleneck blocks
3 + 4, a 3 x 3 stride-2 stem, 1.44M parameters), whose input is not the image but a fixed high-pass of it:

* ``input_filter="haar_hh"`` (SAFE, Li et al., KDD 2025): the diagonal (HH) band of a one-level 2-D wavelet
  transform of each colour channel, resized back to the input size (bilinear). SAFE's code uses the ``bior1.3``
  wavelet, whose analysis high-pass is Haar's ([-1, 1] / sqrt 2), so its HH band is the Haar HH band computed
  here, up to the few border samples its symmetric padding adds. ``haar_all`` stacks the LH, HL and HH bands.
* ``input_filter="npr"`` (NPR, Tan et al., CVPR 2024): x - up(down(x)), nearest-neighbour by a factor 2, scaled
  by 2/3 as NPR's code feeds it to the network.

The filter is part of ``forward``, so the saved model and its saved processor (a ``CropImageProcessor``: native
crops, no resize, pixels in [0, 1] as SAFE feeds them; NPR gets the same here) reproduce every prediction. A 5-D batch of crops is
averaged as the crop detector does.

The classes register for the auto classes, so ``save_pretrained`` copies this file (and ``crop_detector.py``, which
it imports) into the model folder: ``pipeline(..., trust_remote_code=True)`` works with transformers alone, and
after ``import deepart_hf.models`` without ``trust_remote_code``. Keep it self-contained (torch, torchvision, transformers).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import Bottleneck
from transformers import PreTrainedConfig, PreTrainedModel
from transformers.modeling_outputs import ImageClassifierOutput

from .crop_detector import crop_averaged_logits

MODEL_TYPE = "deepart_highpass_cnn"
INPUT_FILTERS = {"haar_hh": 1, "haar_all": 3, "npr": 1}  # name -> images (of 3 channels) it gives
NPR_SCALE = 2.0 / 3.0


def haar_dwt(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One level of the orthonormal 2-D Haar transform of each channel: (LL, LH, HL, HH), each (..., H/2, W/2).

    LH is high-pass across rows (horizontal edges), HL across columns, HH diagonal. An odd side loses its last
    row or column.
    """
    height, width = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
    x = x[..., :height, :width]
    a, b = x[..., 0::2, 0::2], x[..., 0::2, 1::2]
    c, d = x[..., 1::2, 0::2], x[..., 1::2, 1::2]
    return (a + b + c + d) / 2, (a + b - c - d) / 2, (a - b + c - d) / 2, (a - b - c + d) / 2


def neighbouring_pixel_residual(x: torch.Tensor) -> torch.Tensor:
    """NPR: the image minus its nearest-neighbour down- and up-sampled copy (zero wherever a 2 x 2 block is flat)."""
    coarse = F.interpolate(x, scale_factor=0.5, mode="nearest", recompute_scale_factor=True)
    return x - F.interpolate(coarse, size=x.shape[-2:], mode="nearest")


def high_pass(x: torch.Tensor, input_filter: str, upsample: bool = True) -> torch.Tensor:
    """(B, C, H, W) pixels -> the network's input for ``input_filter``."""
    if input_filter == "npr":
        return neighbouring_pixel_residual(x) * NPR_SCALE
    _, lh, hl, hh = haar_dwt(x)
    bands = hh if input_filter == "haar_hh" else torch.cat([lh, hl, hh], dim=1)
    return F.interpolate(bands, size=x.shape[-2:], mode="bilinear", align_corners=False) if upsample else bands


class HighPassCNNConfig(PreTrainedConfig):
    r"""
    input_filter (`str`): ``haar_hh`` (SAFE), ``haar_all`` (LH, HL, HH) or ``npr`` (NPR).
    upsample (`bool`): resize wavelet bands back to the input size, as SAFE does.
    depths (`list[int]`), widths (`list[int]`): Bottleneck blocks and widths of each ResNet stage.
    """

    model_type = MODEL_TYPE

    input_filter: str = "haar_hh"
    upsample: bool = True
    depths: list[int] | tuple[int, ...] = (3, 4)
    widths: list[int] | tuple[int, ...] = (64, 128)
    stem_width: int = 64


class HighPassCNNForImageClassification(PreTrainedModel):
    """A fixed high-pass filter, a short ResNet and a linear head; averages crop probabilities on a 5-D batch."""

    config_class = HighPassCNNConfig
    main_input_name = "pixel_values"
    input_modalities = ("image",)

    def __init__(self, config: HighPassCNNConfig):
        super().__init__(config)
        if config.input_filter not in INPUT_FILTERS:
            raise ValueError(f"unknown input_filter {config.input_filter!r}; choose one of {', '.join(INPUT_FILTERS)}")
        channels = 3 * INPUT_FILTERS[config.input_filter]
        self.stem = nn.Sequential(
            nn.Conv2d(channels, config.stem_width, kernel_size=3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(config.stem_width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )
        stages, width_in = [], config.stem_width
        for index, (depth, width) in enumerate(zip(config.depths, config.widths)):
            stage, width_in = _stage(width_in, width, depth, stride=1 if index == 0 else 2)
            stages.append(stage)
        self.stages = nn.Sequential(*stages)
        self.classifier = nn.Linear(width_in, config.num_labels)
        self._reset_parameters()
        self.post_init()

    def _reset_parameters(self) -> None:
        # torchvision's ResNet init, as SAFE's network uses: a plain N(0, 0.02) would shrink signals layer by layer
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def _init_weights(self, module):
        pass  # __init__ initialised every weight; from_pretrained overwrites them all

    def classify(self, pixel_values: torch.Tensor) -> torch.Tensor:
        features = self.stages(self.stem(high_pass(pixel_values, self.config.input_filter, self.config.upsample)))
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(features, 1), 1))

    def forward(
        self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None, **kwargs
    ) -> ImageClassifierOutput:
        logits = crop_averaged_logits(self.classify, pixel_values)
        loss = F.cross_entropy(logits.float(), labels) if labels is not None else None
        return ImageClassifierOutput(loss=loss, logits=logits)


def _stage(width_in: int, width: int, depth: int, stride: int) -> tuple[nn.Sequential, int]:
    width_out = width * Bottleneck.expansion
    downsample = None
    if stride != 1 or width_in != width_out:
        downsample = nn.Sequential(
            nn.Conv2d(width_in, width_out, kernel_size=1, stride=stride, bias=False), nn.BatchNorm2d(width_out)
        )
    blocks = [Bottleneck(width_in, width, stride, downsample)]
    blocks += [Bottleneck(width_out, width) for _ in range(depth - 1)]
    return nn.Sequential(*blocks), width_out


HighPassCNNConfig.register_for_auto_class()
HighPassCNNForImageClassification.register_for_auto_class("AutoModelForImageClassification")
