"""The detectors the project knows by name: a registry of ``ModelSpec`` entries, as timm keeps its models."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Literal

import timm.models

from . import efficientnet_lite, googlenet  # noqa: F401  (googlenet registers with timm before the specs read its cfg)


@dataclass(frozen=True)
class LocalWeights:
    """ImageNet weights that ship inside a Python package, so a machine without network access still has them.

    ``locate`` returns the checkpoint's path (ImportError when the package is not installed); ``filter_fn``
    (timm's ``load_pretrained`` signature) maps the file's keys to the timm model's; ``origin`` says what the
    weights are, for the model card.
    """

    package: str
    locate: Callable[[], str]
    origin: str
    filter_fn: Callable | None = None


@dataclass(frozen=True)
class ModelSpec:
    """A detector the project knows by name.

    ``pretrained_id`` is where ImageNet weights come from (a Hub id, or a URL for torchvision weights); ``None``
    marks a config that only exists to be trained from scratch. ``vit_config`` holds ViTConfig arguments for the
    ``vit`` family; a ``timm`` spec's name is its timm architecture. The ``clip`` and ``highpass`` families (the
    recipes of detectors that generalise) keep their config arguments in ``model_config``; ``preprocess`` is the
    one preprocessing mode a recipe allows, and ``freeze_backbone`` its default for ``--freeze_backbone`` (on for
    the linear probes, see ``linear_probe``). ``architecture`` is the timm architecture when it differs from the
    name, and ``local_weights`` the default pretrained weights when they come from an installed package rather
    than a download.
    """

    name: str
    family: Literal["vit", "timm", "clip", "highpass"]
    pretrained_id: str | None
    description: str
    default_image_size: int = 224
    min_image_size: int = 32
    vit_config: Mapping[str, int] = field(default_factory=dict)
    model_config: Mapping[str, Any] = field(default_factory=dict)
    preprocess: str | None = None
    freeze_backbone: bool = False
    architecture: str | None = None
    local_weights: LocalWeights | None = None

    @property
    def timm_architecture(self) -> str:
        return self.architecture or self.name


MODELS: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    MODELS[spec.name] = spec
    return spec


def list_models() -> list[str]:
    return list(MODELS)


def linear_probe(backbone: ModelSpec, description: str, name: str | None = None) -> ModelSpec:
    """The linear-probe recipe on any backbone: its pretrained features, frozen (normalisation statistics
    included), and a linear head on them, the only layer that trains. ``--freeze_backbone false`` fine-tunes it
    all instead."""
    return replace(backbone, name=name or f"{backbone.name}-linear", description=description, freeze_backbone=True)


def _vit_spec(name: str, description: str, pretrained_id: str | None = None, **vit_config: int) -> ModelSpec:
    return ModelSpec(
        name, "vit", pretrained_id, description, min_image_size=vit_config["patch_size"], vit_config=vit_config
    )


def _timm_spec(name: str, description: str, min_image_size: int = 32) -> ModelSpec:
    cfg = timm.models.get_pretrained_cfg(name)
    return ModelSpec(
        name, "timm", cfg.hf_hub_id or cfg.url, description, cfg.input_size[-1], min_image_size=min_image_size
    )


for _spec in (
    _vit_spec(
        "vit-base",
        "ViT-B/16, ImageNet-21k pretrained (the genre study, Yin (Rice), trains a ViT on its genre subsets)",
        "google/vit-base-patch16-224-in21k",
        hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072, patch_size=16,
    ),
    _vit_spec(
        "vit-tiny",
        "DeiT-tiny sized ViT (5.5M parameters), from scratch only",
        hidden_size=192, num_hidden_layers=12, num_attention_heads=3, intermediate_size=768, patch_size=16,
    ),
    _vit_spec(
        "vit-test",
        "2-layer ViT for smoke tests and CPU runs, from scratch only",
        hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128, patch_size=16,
    ),
    _timm_spec("resnet10t", "ResNet-10-T, a small ResNet for quick CPU runs (the default of the synthetic smoke run)"),
    *(_timm_spec(f"resnet{depth}", f"ResNet-{depth}") for depth in (18, 34, 50, 101, 152)),
    *(_timm_spec(f"vgg{depth}", f"VGG-{depth}") for depth in (11, 13, 16)),
    # Its stem shrinks 75 px to 1 x 1 before the stride-2 blocks of Mixed_6a, which need at least 3 x 3.
    _timm_spec("inception_v3", "Inception v3", min_image_size=75),
    _timm_spec("googlenet", "GoogLeNet (Inception v1), torchvision weights"),
):  # fmt: skip
    register_model(_spec)

# EfficientNet-Lite0/1/2 at their native input sizes, ImageNet weights from installed packages (no download).
_LITE_SIZES = {0: (224, "3.4M"), 1: (240, "4.1M"), 2: (260, "4.8M")}  # input size, parameters with a 2-class head
for _variant, (_size, _parameters) in _LITE_SIZES.items():
    _package = efficientnet_lite.weights_package(_variant)
    _lite = register_model(
        ModelSpec(
            f"efficientnet-lite{_variant}",
            "timm",
            _package,
            f"EfficientNet-Lite{_variant} (timm tf_efficientnet_lite{_variant}, TF 'same' padding; {_parameters} "
            f"parameters with a 2-class head; {_size} px), ImageNet weights from the installed package {_package} "
            f"({efficientnet_lite.WEIGHTS_LICENSE}; no download)",
            default_image_size=_size,
            architecture=f"tf_efficientnet_lite{_variant}",
            local_weights=LocalWeights(
                _package,
                partial(efficientnet_lite.packaged_weights, _variant),
                efficientnet_lite.weights_origin(_variant),
                efficientnet_lite.reference_to_timm,
            ),
        )
    )
    register_model(
        linear_probe(
            _lite,
            f"Linear probe on frozen EfficientNet-Lite{_variant} ImageNet features (1280-d pooled; {_size} px), "
            f"weights from the installed package {_package}; runs offline",
        )
    )


# Detectors that generalise: recipes from the detection literature, custom code saved with the model.

# CLIP ViT-L/14 as openai/clip-vit-large-patch14 configures it; the test config is the same shape, tiny.
_CLIP_L14 = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16, patch_size=14,
                 projection_dim=768)  # fmt: skip
_CLIP_TEST = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2, patch_size=8,
                  projection_dim=32)  # fmt: skip

for _spec in (
    linear_probe(
        ModelSpec(
            "clip-vit-l14",
            "clip",
            "openai/clip-vit-large-patch14",
            "",
            min_image_size=14,
            model_config=_CLIP_L14,
            preprocess="resize",
        ),
        "UniversalFakeDetect (Ojha et al., CVPR 2023): frozen CLIP ViT-L/14 image embedding + linear head; "
        "CLIP's own preprocessing (shortest side to 224, centre crop)",
    ),
    linear_probe(
        ModelSpec(
            "clip-test",
            "clip",
            None,
            "",
            default_image_size=32,
            min_image_size=8,
            model_config=_CLIP_TEST,
            preprocess="resize",
        ),
        "2-layer CLIP image encoder + linear head, the UniversalFakeDetect recipe for smoke tests, from scratch only",
        name="clip-test",
    ),
    ModelSpec(
        "safe",
        "highpass",
        None,
        "SAFE (Li et al., KDD 2025): Haar HH wavelet band of 256-px native crops -> ResNet-50 cut after stage 2 "
        "(1.4M parameters), from scratch; train with --protocol safe",
        default_image_size=256,
        model_config={"input_filter": "haar_hh"},
        preprocess="crop",
    ),
    ModelSpec(
        "npr",
        "highpass",
        None,
        "NPR (Tan et al., CVPR 2024): neighbouring-pixel residuals of native crops -> the same small ResNet, from "
        "scratch; known to flag many real images as AI-made",
        default_image_size=256,
        model_config={"input_filter": "npr"},
        preprocess="crop",
    ),
):
    register_model(_spec)
