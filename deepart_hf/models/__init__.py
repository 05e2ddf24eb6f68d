"""Detectors: a registry of named models, a factory that builds or loads them, and what they need to know.

Importing this package registers GoogLeNet with timm, so saved GoogLeNet detectors reload.
"""

from .factory import BASE_MODEL_ATTR, FROM_SCRATCH, create_model, load_trained
from .heads import count_parameters, describe_model, freeze_backbone, unfreeze_all
from .registry import MODELS, ModelSpec, list_models, register_model

__all__ = [
    "BASE_MODEL_ATTR",
    "FROM_SCRATCH",
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
