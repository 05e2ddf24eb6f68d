"""deepart-hf: detecting AI-generated art, reproducibly, on the Hugging Face stack.

raw source -> records (``sources``) -> typed DatasetDict (``build``) -> Hub folder or repo (``publish``)
-> transforms -> model -> Trainer -> metrics -> report, card, Hub.
"""

from .build import Build, build, build_dataset
from .constants import ID2LABEL, LABEL2ID, LABELS
from .errors import DeepArtError
from .publish import publish

__all__ = ["Build", "DeepArtError", "ID2LABEL", "LABEL2ID", "LABELS", "build", "build_dataset", "publish"]
