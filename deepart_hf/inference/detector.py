"""A saved detector as an object people call: images in, the probability that each is AI-made out.

``load_detector(path_or_id)`` reads the model and the processor it was saved with, and ``predict`` runs them
exactly as evaluation does (the same decoding, the same processor, the same float64 log-odds, the calibration
saved in the config), so a file's score is the same whichever tool computes it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import BaseImageProcessor, PreTrainedModel

from ..constants import AI, ID2LABEL
from ..data.images import decode_image, upright_rgb
from ..evaluation.metrics import log_odds_from_logits, probabilities_from_log_odds
from ..models import load_trained
from ..models.calibration import Calibration
from ..models.preprocessing import describe_preprocessing

ImageLike = Image.Image | str | os.PathLike | bytes | dict


@dataclass(frozen=True)
class Prediction:
    """One image's result (the saved model's probabilities are calibrated already). ``prob_ai`` is P(ai);
    ``log_odds_ai`` = log(P(ai) / P(human)), the exact score; ``label`` the decision at the saved threshold."""

    prob_ai: float
    log_odds_ai: float
    threshold_log_odds: float = 0.0

    @property
    def label(self) -> str:
        return ID2LABEL[AI] if self.log_odds_ai >= self.threshold_log_odds else ID2LABEL[1 - AI]


class Detector:
    """A trained human/ai detector with its preprocessing, ready to score images on the CPU or a GPU."""

    def __init__(self, model: PreTrainedModel, processor: BaseImageProcessor, *, batch_size: int = 16, device: str | None = None):
        self.model = model.eval()
        self.processor = processor
        self.batch_size = batch_size
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model.to(self.device)
        self.calibration = Calibration.from_config(model.config)

    def __repr__(self) -> str:
        return f"Detector({type(self.model).__name__}, {describe_preprocessing(self.processor)})"

    def log_odds(self, images: Iterable[ImageLike]) -> np.ndarray:
        """log(P(ai) / P(human)) per image, float64 (calibrated: the temperature is in the saved weights)."""
        images = list(images)
        scores = []
        for start in range(0, len(images), self.batch_size):
            batch = [as_image(image) for image in images[start : start + self.batch_size]]
            pixel_values = self.processor(images=batch, return_tensors="pt")["pixel_values"].to(self.device)
            with torch.inference_mode():
                logits = self.model(pixel_values=pixel_values).logits
            scores.append(log_odds_from_logits(logits.float().cpu().numpy()))
        return np.concatenate(scores) if scores else np.zeros(0)

    def predict(self, images: Iterable[ImageLike]) -> list[Prediction]:
        """One ``Prediction`` per image (PIL images, paths, bytes, or ``datasets`` image values)."""
        log_odds = self.log_odds(images)
        threshold = self.calibration.threshold_log_odds
        return [Prediction(float(p), float(s), threshold) for p, s in zip(probabilities_from_log_odds(log_odds), log_odds)]


def as_image(image: ImageLike) -> Image.Image:
    """Any supported input as an RGB image, decoded as every other part of the project decodes it."""
    if isinstance(image, Image.Image):
        return upright_rgb(image)
    if isinstance(image, dict):
        return decode_image(image)
    if isinstance(image, bytes):
        return decode_image({"bytes": image, "path": None})
    return decode_image({"bytes": None, "path": str(Path(image))})


def load_detector(path_or_id: str | os.PathLike, **options) -> Detector:
    """A saved detector (run folder or Hub id), with the preprocessing it was saved with."""
    model, processor = load_trained(str(path_or_id))
    return Detector(model, processor, **options)


__all__ = ["Detector", "Prediction", "as_image", "load_detector"]
