"""saved detector -> predictions for people: the detector object, the command line, the demo, ONNX export.

The names below are imported when first used, so the command line's argument modules here stay cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .detector import Detector, Prediction, load_detector


def __getattr__(name: str):
    if name not in __all__:
        raise AttributeError(f"module 'deepart_hf.inference' has no attribute {name!r}")
    return getattr(importlib.import_module("deepart_hf.inference.detector"), name)


__all__ = ["Detector", "Prediction", "load_detector"]
