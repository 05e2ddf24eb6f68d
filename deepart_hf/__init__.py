"""deepart-hf: detecting AI-generated art, reproducibly, on the Hugging Face stack.

The package is laid out by stage, in the order data flows through it:

    data/        raw source -> records (sources) -> typed DatasetDict (build) -> Hub folder or repo (publish)
    models/      registry and factory of detectors, the preprocessing saved with them, what a score means
    inference/   a saved detector as an object: load_detector(path_or_id).predict(images)
    evaluation/  metric module, intervals, calibration, perturbations, the validity report, predictions, plots
    training/    typed config, protocols, the Trainer, the run (train(config) -> RunResult), its report and card
    research/    commands that train or study: cross-source matrix, few-shot curves, fidelity, baselines

Each folder imports only from itself and the folders above it in this list (and the package's top-level helpers).

``import deepart_hf`` is cheap (the command line answers ``--help`` before torch is imported): each name below is
imported when first used. Importing ``deepart_hf.models`` (which every loader does, ``load_detector`` included)
registers GoogLeNet with timm and the crop detector with the transformers auto classes, so every saved detector
loads after it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .constants import ID2LABEL, LABEL2ID, LABELS
from .errors import DeepArtError

if TYPE_CHECKING:
    from .data.build import Build, build, build_dataset
    from .data.publish import publish
    from .inference.detector import Detector, load_detector
    from .training.arguments import parse_arguments as parse_train_arguments
    from .training.config import TrainConfig
    from .training.result import RunResult
    from .training.run import train
    from .training.task import Task

# public name -> the module that defines it
_LAZY = {
    "Build": "deepart_hf.data.build",
    "build": "deepart_hf.data.build",
    "build_dataset": "deepart_hf.data.build",
    "publish": "deepart_hf.data.publish",
    "Detector": "deepart_hf.inference.detector",
    "load_detector": "deepart_hf.inference.detector",
    # the training API: deepart_hf.train(parse_train_arguments(argv) or a TrainConfig) -> RunResult
    "train": "deepart_hf.training.run",
    "RunResult": "deepart_hf.training.result",
    "TrainConfig": "deepart_hf.training.config",
    "Task": "deepart_hf.training.task",
    "parse_train_arguments": "deepart_hf.training.arguments",
}
_NAMED_THERE = {"parse_train_arguments": "parse_arguments"}  # public name -> its name in its module


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'deepart_hf' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), _NAMED_THERE.get(name, name))
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "ID2LABEL",
    "LABEL2ID",
    "LABELS",
    "Build",
    "DeepArtError",
    "Detector",
    "RunResult",
    "Task",
    "TrainConfig",
    "build",
    "build_dataset",
    "load_detector",
    "parse_train_arguments",
    "publish",
    "train",
]
