"""Detector registry and factory: every model trains with Trainer, saves with save_pretrained, and runs in
``pipeline("image-classification")``.

Two families share one interface:

* ``vit``: transformers' ``ViTForImageClassification`` (Hub ViT checkpoints, or small named configs built from
  scratch for offline runs);
* ``timm``: timm CNNs inside transformers' ``TimmWrapperForImageClassification``; the preprocessing lives in
  ``config.pretrained_cfg``, which is where ``TimmWrapperImageProcessor`` reads it back from.

GoogLeNet is not a timm model, so this module registers torchvision's as one (``googlenet``) on import. A saved
GoogLeNet detector therefore only reloads in a process that has imported ``deepart_hf.models``.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar
from urllib.error import URLError
from urllib.parse import urlparse

import timm
import timm.data
import timm.models
import torch
import torchvision
from huggingface_hub import is_offline_mode
from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled
from torch import nn
from transformers import (
    AutoImageProcessor,
    AutoModelForImageClassification,
    BaseImageProcessor,
    PreTrainedModel,
    TimmWrapperConfig,
    TimmWrapperForImageClassification,
    TimmWrapperImageProcessor,
    ViTConfig,
    ViTForImageClassification,
    ViTImageProcessor,
)
from transformers.initialization import no_init_weights

from .constants import ID2LABEL, LABEL2ID, LABELS
from .errors import DeepArtError, OfflineError

__all__ = [
    "MODELS",
    "ModelSpec",
    "count_parameters",
    "create_model",
    "describe_model",
    "freeze_backbone",
    "list_models",
    "load_trained",
    "register_model",
    "unfreeze_all",
]

T = TypeVar("T")

# Saved in config.json so the model card can name the weights a detector started from, even after the
# detector itself has been saved and reloaded from a folder (which rewrites config._name_or_path).
BASE_MODEL_ATTR = "base_model_id"
FROM_SCRATCH = "from scratch"

_HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")


# --- GoogLeNet as a timm model ------------------------------------------------------------------------------

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


# --- Registry -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """A detector the project knows by name.

    ``pretrained_id`` is where ImageNet weights come from (a Hub id, or a URL for torchvision weights); ``None``
    marks a config that only exists to be trained from scratch. ``vit_config`` holds ViTConfig arguments for the
    ``vit`` family; a ``timm`` spec's name is its timm architecture.
    """

    name: str
    family: Literal["vit", "timm"]
    pretrained_id: str | None
    description: str
    default_image_size: int = 224
    min_image_size: int = 32
    vit_config: Mapping[str, int] = field(default_factory=dict)


MODELS: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    MODELS[spec.name] = spec
    return spec


def list_models() -> list[str]:
    return list(MODELS)


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
        "ViT-B/16, ImageNet-21k pretrained (seed 003 trains a ViT on the genre subsets)",
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


# --- Errors -------------------------------------------------------------------------------------------------

# huggingface_hub turns connection failures into LocalEntryNotFoundError once it has no cached copy to fall back
# on; torch.hub (torchvision weights) raises URLError.
_UNREACHABLE = (LocalEntryNotFoundError, OfflineModeIsEnabled, URLError, ConnectionError, TimeoutError)


def _is_unreachable(error: BaseException | None) -> bool:
    while error is not None:
        if isinstance(error, _UNREACHABLE):
            return True
        error = error.__cause__ or error.__context__
    return False


def _first_line(error: BaseException) -> str:
    return next((line for line in str(error).splitlines() if line.strip()), type(error).__name__)


def _fetch(name: str, load: Callable[[], T], *, source: str, what: str, hint: str) -> T:
    """Run ``load`` (which may download), turning network and missing-file failures into one-line errors."""
    try:
        return load()
    except (OSError, ValueError) as error:
        # In offline mode transformers sometimes re-raises without chaining the cause, so the flag decides.
        if _is_unreachable(error) or (is_offline_mode() and not os.path.isdir(name)):
            raise OfflineError(
                f"cannot download {what} for {name!r}: {source} is unreachable (offline) and no cached copy exists; "
                f"{hint}"
            ) from None
        raise DeepArtError(f"cannot load {name!r}: {_first_line(error)}") from None


def _fetch_pretrained(name: str, pretrained_id: str, load: Callable[[], T]) -> T:
    url = urlparse(pretrained_id)
    source = url.netloc if url.scheme in ("http", "https") else "the Hugging Face Hub"
    # --from_scratch only applies to registered names.
    hint = "use --from_scratch or pass a local folder" if name in MODELS else "pass a local folder instead"
    return _fetch(name, load, source=source, what="pretrained weights", hint=hint)


# --- Factory ------------------------------------------------------------------------------------------------


def _is_folder_or_hub_id(path_or_id: str) -> bool:
    if os.path.isdir(path_or_id):
        if not os.path.isfile(os.path.join(path_or_id, "config.json")):
            raise DeepArtError(f"{path_or_id!r} is not a saved model folder: it has no config.json")
        return True
    return _HUB_ID.fullmatch(path_or_id) is not None


def create_model(
    name_or_path: str, *, from_scratch: bool = False, image_size: int | None = None
) -> tuple[PreTrainedModel, BaseImageProcessor]:
    """A 2-class (human/ai) detector and its image processor.

    ``name_or_path`` is a registered name (see ``list_models()``), a local folder, or a Hub id of any
    image-classification model; pretrained ImageNet heads are replaced by a fresh 2-class head. ``image_size``
    overrides the input resolution (ViT position embeddings are interpolated to match).
    """
    spec = MODELS.get(name_or_path)
    if spec is None:
        if not _is_folder_or_hub_id(name_or_path):
            raise DeepArtError(
                f"unknown model {name_or_path!r}: use one of {', '.join(MODELS)}, a local folder, or a Hub id "
                "such as 'org/name'"
            )
        if from_scratch:
            raise DeepArtError(
                f"--from_scratch needs a registered model name ({', '.join(MODELS)}), not {name_or_path!r}"
            )
        return _load_pretrained(name_or_path, name_or_path, image_size)

    if not from_scratch and spec.pretrained_id is None:
        raise DeepArtError(
            f"{spec.name!r} has no pretrained weights (it exists for from-scratch runs); add --from_scratch"
        )
    image_size = image_size or spec.default_image_size
    if image_size < spec.min_image_size:
        raise DeepArtError(f"{spec.name!r} needs --image_size of at least {spec.min_image_size}, got {image_size}")

    if spec.family == "vit":
        if from_scratch:
            return _vit_from_scratch(spec, image_size)
        return _load_pretrained(spec.name, spec.pretrained_id, image_size)
    return _create_timm(spec, pretrained=not from_scratch, image_size=image_size)


def _label_kwargs() -> dict[str, Any]:
    return {"num_labels": len(LABELS), "id2label": dict(ID2LABEL), "label2id": dict(LABEL2ID)}


def _vit_from_scratch(spec: ModelSpec, image_size: int) -> tuple[PreTrainedModel, BaseImageProcessor]:
    config = ViTConfig(**spec.vit_config, image_size=image_size, **_label_kwargs())
    setattr(config, BASE_MODEL_ATTR, None)
    processor = ViTImageProcessor(size={"height": image_size, "width": image_size})
    return ViTForImageClassification(config), processor


def _load_pretrained(
    name: str, path_or_id: str, image_size: int | None
) -> tuple[PreTrainedModel, BaseImageProcessor]:
    model = _fetch_pretrained(
        name,
        path_or_id,
        lambda: AutoModelForImageClassification.from_pretrained(
            path_or_id, **_label_kwargs(), ignore_mismatched_sizes=True
        ),
    )
    processor = _fetch_pretrained(name, path_or_id, lambda: AutoImageProcessor.from_pretrained(path_or_id))
    # A folder saved by this module already names the weights it started from (None: from scratch); keep that.
    if not hasattr(model.config, BASE_MODEL_ATTR):
        setattr(model.config, BASE_MODEL_ATTR, path_or_id)
    if image_size is None:
        return model, processor
    if model.config.model_type == "vit":
        return _resize_vit(model, image_size), _set_hf_size(processor, image_size)
    if model.config.model_type == "timm_wrapper":
        model.config.pretrained_cfg = _with_input_size(model.config.pretrained_cfg, image_size)
        return model, TimmWrapperImageProcessor(model.config.pretrained_cfg, model.config.architecture)
    raise DeepArtError(
        f"--image_size is only supported for ViT and timm models; {name!r} is a {model.config.model_type} model"
    )


def _resize_vit(model: PreTrainedModel, image_size: int) -> PreTrainedModel:
    """The same weights at a new resolution, with position embeddings interpolated as for high-res fine-tuning."""
    if image_size == model.config.image_size:
        return model
    config = copy.deepcopy(model.config)
    config.image_size = image_size
    num_patches = (image_size // config.patch_size) ** 2
    tokens = torch.zeros(1, num_patches + 1, config.hidden_size)
    state = model.state_dict()
    state["vit.embeddings.position_embeddings"] = model.vit.embeddings.interpolate_pos_encoding(
        tokens, image_size, image_size
    ).detach()
    with no_init_weights():  # every weight is overwritten just below
        resized = type(model)(config)
    resized.load_state_dict(state)
    return resized


def _set_hf_size(processor: BaseImageProcessor, image_size: int) -> BaseImageProcessor:
    processor.size = {"height": image_size, "width": image_size}
    return processor


def _with_input_size(pretrained_cfg: Mapping[str, Any], image_size: int) -> dict[str, Any]:
    # The test-time entries describe an ImageNet evaluation at the original size; they would contradict ours.
    cfg = {k: v for k, v in pretrained_cfg.items() if not k.startswith("test_")}
    cfg["input_size"] = (3, image_size, image_size)
    return cfg


# pretrained_cfg entries about the ImageNet head (replaced by ours) and the ImageNet weights (absent from scratch).
_IMAGENET_HEAD_KEYS = {"num_classes", "label_offset", "label_names", "label_descriptions"}
_IMAGENET_WEIGHTS_KEYS = {"tag", "license", "description", "origin_url", "paper_name", "paper_ids", "notes"}


def _create_timm(spec: ModelSpec, *, pretrained: bool, image_size: int) -> tuple[PreTrainedModel, BaseImageProcessor]:
    # timm builds the network (downloading and head-swapping ImageNet weights when asked) with its own
    # per-architecture init. Built directly, TimmWrapperForImageClassification would re-draw every conv from
    # N(0, 0.02) and reset BatchNorm gammas: signals then shrink layer by layer in a plain deep CNN like VGG,
    # which relies on fan-in scaled init to train from scratch.
    if pretrained:
        native = _fetch_pretrained(
            spec.name,
            spec.pretrained_id,
            lambda: timm.create_model(spec.name, pretrained=True, num_classes=len(LABELS)),
        )
    else:
        native = timm.create_model(spec.name, num_classes=len(LABELS))
    stale = _IMAGENET_HEAD_KEYS if pretrained else _IMAGENET_HEAD_KEYS | _IMAGENET_WEIGHTS_KEYS
    pretrained_cfg = timm.models.filter_pretrained_cfg(native.pretrained_cfg, remove_source=True)
    pretrained_cfg = _with_input_size({k: v for k, v in pretrained_cfg.items() if k not in stale}, image_size)

    config = TimmWrapperConfig(architecture=spec.name, pretrained_cfg=pretrained_cfg, **_label_kwargs())
    setattr(config, BASE_MODEL_ATTR, spec.pretrained_id if pretrained else None)
    with no_init_weights():  # every weight is overwritten just below
        model = TimmWrapperForImageClassification(config)
    model.timm_model.load_state_dict(native.state_dict())
    return model, TimmWrapperImageProcessor(pretrained_cfg, spec.name)


def load_trained(path_or_id: str) -> tuple[PreTrainedModel, BaseImageProcessor]:
    """A trained human/ai detector (a saved folder or a Hub id) and its processor, for evaluation."""
    if not _is_folder_or_hub_id(path_or_id):
        raise DeepArtError(f"no such model folder or Hub id: {path_or_id!r}")
    fetch = dict(source="the Hugging Face Hub", what="the model", hint="pass a local folder")
    model = _fetch(path_or_id, lambda: AutoModelForImageClassification.from_pretrained(path_or_id), **fetch)
    labels = {int(i): label for i, label in model.config.id2label.items()}
    if labels != ID2LABEL:
        found = [labels[i] for i in sorted(labels)]
        raise DeepArtError(f"{path_or_id!r} is not a human/ai detector: its labels are {found}, expected {LABELS}")
    processor = _fetch(path_or_id, lambda: AutoImageProcessor.from_pretrained(path_or_id), **fetch)
    return model, processor


# --- Training helpers ---------------------------------------------------------------------------------------


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
