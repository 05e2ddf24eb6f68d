"""GoogLeNet (Inception v1) from torchvision, registered with timm as ``googlenet``.

GoogLeNet is not a timm model, so importing this module registers torchvision's as one. A saved GoogLeNet
detector therefore only reloads in a process that has imported ``deepart_hf`` (or ``deepart_hf.models``).
"""

from __future__ import annotations

from typing import Any

import timm
import timm.data
import timm.models
import torch
import torchvision
from torch import nn

_GOOGLENET_FEATURES = (
    "conv1", "maxpool1", "conv2", "conv3", "maxpool2",
    "inception3a", "inception3b", "maxpool3",
    "inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "maxpool4",
    "inception5a", "inception5b",
)  # fmt: skip


class GoogLeNet(torchvision.models.GoogLeNet):
    """torchvision's GoogLeNet with the timm classifier interface that TimmWrapper calls.

    Subclassing (rather than wrapping) keeps torchvision's state-dict keys, so its ImageNet weights load as is.
    The auxiliary heads only matter for ImageNet training from scratch and timm has no place for their
    outputs, so they are left out.
    """

    def __init__(self, num_classes: int = 1000, in_chans: int = 3, drop_rate: float = 0.2):
        if in_chans != 3:
            raise ValueError(f"googlenet takes 3 input channels, not {in_chans}")
        super().__init__(aux_logits=False, transform_input=False, init_weights=True, dropout=drop_rate)
        self.num_features = self.head_hidden_size = self.fc.in_features
        self.reset_classifier(num_classes)

    def get_classifier(self) -> nn.Module:
        return self.fc

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        # TimmWrapperModel asks for num_classes=0: a headless model whose forward_head returns pooled features.
        self.num_classes = num_classes
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        for name in _GOOGLENET_FEATURES:
            x = getattr(self, name)(x)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.dropout(torch.flatten(self.avgpool(x), 1))
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def _drop_aux_heads(state_dict: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v for k, v in state_dict.items() if not k.startswith(("aux1.", "aux2."))}


# timm's register_model looks up the entrypoint's pretrained cfgs in a module-level `default_cfgs`.
default_cfgs = timm.models.generate_default_cfgs(
    {
        "googlenet.tv_in1k": {
            "url": "https://download.pytorch.org/models/googlenet-1378be20.pth",  # GoogLeNet_Weights.IMAGENET1K_V1
            "num_classes": 1000,
            "input_size": (3, 224, 224),
            "pool_size": (7, 7),
            "crop_pct": 0.875,  # torchvision's resize 256 -> crop 224
            "interpolation": "bilinear",
            # These weights were ported from Google's TF model, which expects pixels scaled to [-1, 1];
            # torchvision gets there with transform_input=True after ImageNet normalisation, which is the same
            # affine map as normalising with mean = std = 0.5 (timm's inception_v3.tv_in1k does the same).
            "mean": timm.data.IMAGENET_INCEPTION_MEAN,
            "std": timm.data.IMAGENET_INCEPTION_STD,
            "first_conv": "conv1.conv",
            "classifier": "fc",
            "license": "bsd-3-clause",
            "origin_url": "https://github.com/pytorch/vision",
        }
    }
)


@timm.models.register_model
def googlenet(pretrained: bool = False, **kwargs: Any) -> GoogLeNet:
    """GoogLeNet (Inception v1) from torchvision, with its ImageNet weights when ``pretrained``."""
    return timm.models.build_model_with_cfg(
        GoogLeNet, "googlenet", pretrained, pretrained_filter_fn=_drop_aux_heads, **kwargs
    )
