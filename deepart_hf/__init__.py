"""deepart-hf: detecting AI-generated art, reproducibly, on the Hugging Face stack.

The package is laid out by stage, in the order data flows through it:

    data/        raw source -> records (sources) -> typed DatasetDict (build) -> Hub folder or repo (publish)
    models/      registry and factory of detectors, the preprocessing saved with them, what a score means
    inference/   a saved detector as an object: load_detector(path_or_id).predict(images)
    evaluation/  metric module, intervals, calibration, perturbations, the validity report, predictions, plots
    training/    typed config, protocols, the Trainer, the run (train(config) -> RunResult), its report and card
    research/    commands that train or study: cross-source matrix, few-shot curves, fidelity, baselines

Each folder imports only from itself and the folders above it in this list (and the package's top-level helpers).
"""

# Importing models registers GoogLeNet with timm and the crop detector with the transformers auto classes,
# so every saved detector loads after `import deepart_hf`.
from . import models  # noqa: F401
from .constants import ID2LABEL, LABEL2ID, LABELS
from .data.build import Build, build, build_dataset
from .data.publish import publish
from .errors import DeepArtError
from .inference.detector import Detector, load_detector

# The training API, imported on first use: `import deepart_hf` stays light for inference.
_TRAINING = {
    "train": "deepart_hf.training.run",
    "RunResult": "deepart_hf.training.run",
    "TrainConfig": "deepart_hf.training.config",
    "Task": "deepart_hf.training.task",
    "parse_train_arguments": "deepart_hf.training.arguments",
}


def __getattr__(name: str):
    if name in _TRAINING:
        import importlib

        module = importlib.import_module(_TRAINING[name])
        return getattr(module, "parse_arguments" if name == "parse_train_arguments" else name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
