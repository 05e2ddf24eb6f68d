"""deepart-hf: detecting AI-generated art, reproducibly, on the Hugging Face stack.

The package is laid out by stage, in the order data flows through it:

    data/        raw source -> records (sources) -> typed DatasetDict (build) -> Hub folder or repo (publish)
    models/      registry and factory of detectors, and the preprocessing saved with them
    training/    arguments, protocols, the Trainer and the run
    evaluation/  metric module, predictions, plots, report and model card
"""

from . import models  # noqa: F401  (registers GoogLeNet with timm, so saved GoogLeNet detectors reload)
from .constants import ID2LABEL, LABEL2ID, LABELS
from .data.build import Build, build, build_dataset
from .data.publish import publish
from .errors import DeepArtError

__all__ = ["Build", "DeepArtError", "ID2LABEL", "LABEL2ID", "LABELS", "build", "build_dataset", "publish"]
