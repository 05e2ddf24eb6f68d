"""Detectors: a registry of named models, a factory that builds or loads them, and the preprocessing saved
with them.

Importing this package registers GoogLeNet with timm, and the crop detector's classes with the transformers
auto classes, so that saved detectors of every kind load with ``from_pretrained`` and ``pipeline`` without
``trust_remote_code``.
"""

from transformers import AutoConfig, AutoImageProcessor, AutoModelForImageClassification, AutoVideoProcessor

from .clip_linear import CLIPLinearConfig, CLIPLinearForImageClassification
from .crop_detector import MODEL_TYPE, CropDetector, CropDetectorConfig, CropImageProcessor
from .factory import (
    BASE_MODEL_ATTR,
    FROM_SCRATCH,
    check_detector_labels,
    create_model,
    is_attribution_labels,
    is_hub_id,
    load_trained,
    model_labels,
    to_crop_detector,
)
from .heads import classifier_head, describe_model, freeze_backbone, unfreeze_all
from .highpass_cnn import HighPassCNNConfig, HighPassCNNForImageClassification
from .multi_stage import MultiStageProbeConfig, MultiStageProbeForImageClassification
from .registry import MODELS, ModelSpec, list_models, register_model

AutoConfig.register(MODEL_TYPE, CropDetectorConfig, exist_ok=True)
AutoModelForImageClassification.register(CropDetectorConfig, CropDetector, exist_ok=True)
AutoImageProcessor.register(
    CropDetectorConfig,
    image_processor_classes={"torchvision": CropImageProcessor, "pil": CropImageProcessor},
    exist_ok=True,
)
# The recipes of detectors that generalise: custom code saved with the model, registered here as well.
for _config, _model in (
    (CLIPLinearConfig, CLIPLinearForImageClassification),
    (HighPassCNNConfig, HighPassCNNForImageClassification),
    (MultiStageProbeConfig, MultiStageProbeForImageClassification),
):
    AutoConfig.register(_config.model_type, _config, exist_ok=True)
    AutoModelForImageClassification.register(_config, _model, exist_ok=True)
    AutoVideoProcessor.register(_config, video_processor_classes={}, exist_ok=True)
AutoImageProcessor.register(
    HighPassCNNConfig,
    image_processor_classes={"torchvision": CropImageProcessor, "pil": CropImageProcessor},
    exist_ok=True,
)
# Crop detectors take no video. The image-classification pipeline still looks for an optional video processor,
# and without a local entry transformers would stop to ask whether to run the model's remote code: an empty
# entry says "local code, no video processor", and the lookup fails quietly as for any image model.
AutoVideoProcessor.register(CropDetectorConfig, video_processor_classes={}, exist_ok=True)

__all__ = [
    "BASE_MODEL_ATTR",
    "FROM_SCRATCH",
    "MODELS",
    "CLIPLinearConfig",
    "CLIPLinearForImageClassification",
    "CropDetector",
    "CropDetectorConfig",
    "CropImageProcessor",
    "HighPassCNNConfig",
    "HighPassCNNForImageClassification",
    "ModelSpec",
    "MultiStageProbeConfig",
    "MultiStageProbeForImageClassification",
    "check_detector_labels",
    "classifier_head",
    "create_model",
    "describe_model",
    "freeze_backbone",
    "is_attribution_labels",
    "is_hub_id",
    "list_models",
    "load_trained",
    "model_labels",
    "register_model",
    "to_crop_detector",
    "unfreeze_all",
]
