"""A saved detector as an object people call: images in, the probability that each is AI-made out.

``load_detector(path_or_id)`` reads the model and the processor it was saved with, and ``predict`` runs them
exactly as evaluation does (the same decoding, the same processor, the same float64 log-odds, the calibration
saved in the config), so a file's score is the same whichever tool computes it.

A generator-attribution model (``train.py --task attribution``: classes ``real`` and the generators) is a
detector too: P(ai) = 1 - P(real), and each ``Prediction`` also carries every class's probability.

``predict`` is for images the caller already trusts and raises on a bad one; ``predict_rows`` is for files
people bring (paths, folders, globs, zip archives): one ``Row`` per file, with its error when it cannot be read,
decoded and preprocessed in threads while the model scores the previous batch. ``deepart-hf predict`` and the
demo are built on it.

A detector saved with its familiarity (``familiarity.safetensors``, ``models/familiarity.py``) also says for each
image how far it lies from the images it learnt from: the same forward pass gives the logits and the features
the head read. One saved without it predicts as before, and ``load_detector`` says so once.
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy.special import softmax
from transformers import BaseImageProcessor, PreTrainedModel

from ..constants import AI, ID2LABEL
from ..data.images import BadImage, decode_image, open_image, upright_rgb
from ..errors import DeepArtError
from ..models import is_attribution_labels, load_trained, model_labels
from ..models.calibration import Calibration
from ..models.familiarity import FAMILIARITY_FILE, Familiarity
from ..models.features import logits_and_features
from ..models.preprocessing import describe_preprocessing
from ..models.scores import attribution_log_odds_ai, log_odds_from_logits, probabilities_from_log_odds
from .decisions import (
    DECISION_WORDS,
    DEFAULT_UNCERTAIN,
    ERROR,
    UNCERTAIN,
    UNCERTAIN_HELP,
    check_uncertain,
    uncertain_interval,
)
from .inputs import InputFile, expand_inputs

logger = logging.getLogger(__name__)

ImageLike = Image.Image | str | os.PathLike | bytes | dict


@dataclass(frozen=True)
class Prediction:
    """One image's result (the saved model's probabilities are calibrated already). ``prob_ai`` is P(ai);
    ``log_odds_ai`` = log(P(ai) / P(human)), the exact score; ``label`` the decision at the saved threshold.
    ``class_probs``: an attribution model's probability of each class (``real`` and each generator), else None.
    ``distance``, ``distance_percentile``, ``familiar``: how far the image lies from the training images
    (``models/familiarity.py``); None when the detector carries no familiarity data."""

    prob_ai: float
    log_odds_ai: float
    threshold_log_odds: float = 0.0
    class_probs: dict[str, float] | None = None
    # where the image stands against the images the detector learnt from (None: it carries no familiarity data):
    # the cosine distance to its k-th nearest stored training image, the share (0-100) of stored images whose own
    # distance is at most that, and whether it is within the threshold
    distance: float | None = None
    distance_percentile: float | None = None
    familiar: bool | None = None

    @property
    def generator(self) -> str | None:
        """An attribution model's most probable class (``real`` or a generator); None for a human/ai detector."""
        return max(self.class_probs, key=self.class_probs.get) if self.class_probs else None

    @property
    def label(self) -> str:
        return ID2LABEL[AI] if self.log_odds_ai >= self.threshold_log_odds else ID2LABEL[1 - AI]

    def decision(self, uncertain: float = 0.0) -> str:
        """``label``, or "uncertain" when the log-odds lie within ``uncertain`` of the threshold's."""
        return UNCERTAIN if abs(self.log_odds_ai - self.threshold_log_odds) < uncertain else self.label


@dataclass(frozen=True)
class Row:
    """One input file's line in ``deepart-hf predict``'s table: its score and decision, or why it has none."""

    file: str
    prob_ai: float | None = None
    log_odds_ai: float | None = None
    decision: str = ERROR
    error: str | None = None
    generator: str | None = None  # an attribution model's most probable class, its probability, and every class's
    generator_prob: float | None = None
    class_probs: dict[str, float] | None = None
    distance: float | None = None  # as in Prediction
    distance_percentile: float | None = None
    familiar: bool | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    def as_dict(self) -> dict:
        return asdict(self)


class TorchBackend:
    """A transformers model on a torch device: a batch of the processor's ``pixel_values`` -> float64 logits."""

    def __init__(self, model: PreTrainedModel, device: str | None = None):
        self.model = model.eval()
        self.config = model.config
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model.to(self.device)

    def __repr__(self) -> str:
        return type(self.model).__name__

    def __call__(self, pixel_values: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            logits = self.model(pixel_values=pixel_values.to(self.device)).logits
        return logits.float().cpu().numpy().astype(np.float64)

    def logits_and_features(self, pixel_values: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """float64 logits and the (N, D) float32 features the head read, from one forward pass."""
        with torch.inference_mode():
            logits, features = logits_and_features(self.model, pixel_values.to(self.device))
        return logits.float().cpu().numpy().astype(np.float64), features.cpu().numpy()


class Detector:
    """A trained human/ai detector with its preprocessing, ready to score images on the CPU or a GPU.

    ``model`` is a transformers model (run by torch on ``device``) or a backend: any object with the model's
    ``config`` that maps a batch of ``pixel_values`` to (N, classes) logits, such as an exported ONNX model
    (``inference/export.py``). Everything after the logits is the same code whatever computed them.

    ``familiarity`` (``models/familiarity.py``, loaded by ``load_detector``): the training images' features, so
    that each prediction says how far its image lies from them; it needs a backend that also gives the features
    (``logits_and_features``), as the torch model and a ``deepart-hf export`` do.
    """

    def __init__(
        self,
        model: PreTrainedModel | Callable[[torch.Tensor], np.ndarray],
        processor: BaseImageProcessor,
        *,
        batch_size: int = 16,
        device: str | None = None,
        familiarity: Familiarity | None = None,
    ):
        self.backend = TorchBackend(model, device) if isinstance(model, torch.nn.Module) else model
        self.model = getattr(self.backend, "model", None)  # the torch model, None for another backend
        self.processor = processor
        self.batch_size = batch_size
        config = self.backend.config
        self.calibration = Calibration.from_config(config)
        self.labels = model_labels(config)
        # a generator-attribution model: P(ai) = 1 - P(real), and every class's probability goes with it
        self.is_attribution = is_attribution_labels(self.labels)
        if familiarity is not None and not hasattr(self.backend, "logits_and_features"):
            raise DeepArtError(f"{self.backend!r} gives no features, so it cannot measure familiarity")
        self.familiarity = familiarity

    def __repr__(self) -> str:
        return f"Detector({self.backend!r}, {describe_preprocessing(self.processor)})"

    def logits(self, images: Iterable[ImageLike]) -> np.ndarray:
        """The model's (N, classes) logits, float64."""
        return np.concatenate([self.backend(pixels) for pixels in self._pixel_batches(images)] or [self._no_logits])

    def features(self, images: Iterable[ImageLike]) -> np.ndarray:
        """The (N, D) float32 features the classification head reads for each image (a crop detector's averaged
        over its crops): what ``familiarity`` measures distances on."""
        if not hasattr(self.backend, "logits_and_features"):
            raise DeepArtError(f"{self.backend!r} gives no features: export the detector again with this version")
        batches = [self.backend.logits_and_features(pixels)[1] for pixels in self._pixel_batches(images)]
        return np.concatenate(batches) if batches else np.zeros((0, 0), dtype=np.float32)

    def _pixel_batches(self, images: Iterable[ImageLike]) -> Iterator[torch.Tensor]:
        images = list(images)
        for start in range(0, len(images), self.batch_size):
            batch = [as_image(image) for image in images[start : start + self.batch_size]]
            yield self.processor(images=batch, return_tensors="pt")["pixel_values"]

    @property
    def _no_logits(self) -> np.ndarray:
        return np.zeros((0, len(self.labels)))

    def log_odds(self, images: Iterable[ImageLike]) -> np.ndarray:
        """log(P(ai) / P(human)) per image, float64 (calibrated: the temperature is in the saved weights)."""
        return self.log_odds_from_logits(self.logits(images))

    def log_odds_from_logits(self, logits: np.ndarray) -> np.ndarray:
        if self.is_attribution:
            return attribution_log_odds_ai(logits, self.labels)
        return log_odds_from_logits(logits)

    def predict(self, images: Iterable[ImageLike]) -> list[Prediction]:
        """One ``Prediction`` per image (PIL images, paths, bytes, or ``datasets`` image values)."""
        return [p for pixels in self._pixel_batches(images) for p in self.predict_pixels(pixels)]

    def predict_logits(self, logits: np.ndarray, features: np.ndarray | None = None) -> list[Prediction]:
        """Predictions from the model's logits: P(ai) at the saved threshold, and an attribution model's classes;
        with the images' ``features`` and the detector's familiarity, how far each lies from the training images."""
        predictions = self.predict_log_odds(self.log_odds_from_logits(logits))
        if self.is_attribution:
            probabilities = softmax(np.asarray(logits, dtype=np.float64), axis=1)
            predictions = [
                replace(p, class_probs=dict(zip(self.labels, map(float, row))))
                for p, row in zip(predictions, probabilities)
            ]
        if self.familiarity is None or features is None:
            return predictions
        distances = self.familiarity.distances(features)
        return [
            replace(p, distance=float(d), distance_percentile=float(q), familiar=bool(f))
            for p, d, q, f in zip(
                predictions, distances, self.familiarity.percentiles(distances), self.familiarity.familiar(distances)
            )
        ]

    # --- files people bring: predict_rows (deepart-hf predict, the demo) ---------------------------------------

    def predict_rows(
        self,
        inputs: Iterable[ImageLike | InputFile] | str | os.PathLike,
        *,
        uncertain: float = 0.0,
        workers: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> list[Row]:
        """One ``Row`` per file, in order: paths (folders and zip archives expanded, globs matched), images, bytes.

        A file that cannot be read or decoded gets a row with its error instead of stopping the others.
        Decoding and preprocessing run in ``workers`` threads (Pillow and torch release the GIL) at most two
        batches ahead of the model; ``progress(n)`` is called after each batch of n files.
        """
        rows: list[Row] = []
        for batch in self.prepared_batches(inputs, workers=workers):
            ready = [(item, pixels) for item, pixels in batch if isinstance(pixels, torch.Tensor)]
            scores = iter(self.predict_pixels(torch.stack([p for _, p in ready])) if ready else [])
            for item, pixels in batch:
                if isinstance(pixels, torch.Tensor):
                    prediction = next(scores)
                    generator = prediction.generator
                    rows.append(
                        Row(
                            item.name,
                            prediction.prob_ai,
                            prediction.log_odds_ai,
                            prediction.decision(uncertain),
                            generator=generator,
                            generator_prob=prediction.class_probs[generator] if generator else None,
                            class_probs=prediction.class_probs,
                            distance=prediction.distance,
                            distance_percentile=prediction.distance_percentile,
                            familiar=prediction.familiar,
                        )
                    )
                else:
                    rows.append(Row(item.name, error=pixels))
            if progress:
                progress(len(batch))
        return rows

    def prepared_batches(
        self, inputs: Iterable[ImageLike | InputFile] | str | os.PathLike, *, workers: int | None = None
    ) -> Iterator[list[tuple[InputFile, torch.Tensor | str]]]:
        """The inputs of ``predict_rows`` as batches of (file, its ``pixel_values`` or why it has none), decoded
        in ``workers`` threads: for tools that need the model's pixels of files people bring, not only scores."""
        items = _input_files([inputs] if isinstance(inputs, (str, os.PathLike)) else inputs)
        return self._prepared_batches(items, workers)

    def predict_pixels(self, pixel_values: torch.Tensor) -> list[Prediction]:
        """Predictions for a batch of the processor's ``pixel_values``, calibrated exactly as ``predict`` does
        (and with the familiarity of each image when the detector carries it)."""
        if self.familiarity is None:
            return self.predict_logits(self.backend(pixel_values))
        return self.predict_logits(*self.backend.logits_and_features(pixel_values))

    def predict_log_odds(self, log_odds: np.ndarray) -> list[Prediction]:
        """Predictions from log-odds the model already gave (the temperature is in its weights), at the saved threshold."""
        threshold = self.calibration.threshold_log_odds
        return [
            Prediction(float(p), float(s), threshold) for p, s in zip(probabilities_from_log_odds(log_odds), log_odds)
        ]

    def _prepare(self, item: InputFile) -> torch.Tensor | str:
        """One file -> its ``pixel_values`` (as the processor makes them for a batch), or the error as text."""
        if item.error is not None:
            return item.error
        try:
            image = read_image(item)
        except BadImage as exc:
            return str(exc)
        except MemoryError:
            return "too large to decode in the memory available"
        try:
            return self.processor(images=[image], return_tensors="pt")["pixel_values"][0]
        except (ValueError, RuntimeError, MemoryError) as exc:  # e.g. an image too large for a tensor
            return f"cannot preprocess a {image.width}x{image.height} image ({exc})"

    def _prepared_batches(
        self, items: list[InputFile], workers: int | None
    ) -> Iterator[list[tuple[InputFile, torch.Tensor | str]]]:
        workers = workers or min(8, (os.cpu_count() or 1) + 2)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            pending: deque = deque()
            queue = iter(items)
            # two batches in flight: enough to keep the model busy, bounded memory for any number of files
            for item in (next(queue, None) for _ in range(2 * self.batch_size)):
                if item is not None:
                    pending.append((item, pool.submit(self._prepare, item)))
            batch = []
            while pending:
                item, future = pending.popleft()
                batch.append((item, future.result()))
                following = next(queue, None)
                if following is not None:
                    pending.append((following, pool.submit(self._prepare, following)))
                if len(batch) == self.batch_size or not pending:
                    yield batch
                    batch = []


def as_image(image: ImageLike) -> Image.Image:
    """Any supported input as an RGB image, decoded as every other part of the project decodes it."""
    if isinstance(image, Image.Image):
        return upright_rgb(image)
    if isinstance(image, dict):
        return decode_image(image)
    if isinstance(image, bytes):
        return decode_image({"bytes": image, "path": None})
    return decode_image({"bytes": None, "path": str(Path(image))})


def read_image(item: InputFile) -> Image.Image:
    """An input file as RGB pixels through the project's one decoder; ``BadImage`` says why it cannot be."""
    try:
        data = item.read()
    except (OSError, zipfile.BadZipFile, RuntimeError) as exc:  # zip members: CRC errors, encryption
        raise BadImage(f"cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    if isinstance(data, Image.Image):
        return upright_rgb(data)
    if not data:
        raise BadImage("empty file")
    return upright_rgb(open_image(data))


def _input_files(inputs: Iterable) -> list[InputFile]:
    files: list[InputFile] = []
    for index, value in enumerate(inputs):
        if isinstance(value, InputFile):
            files.append(value)
        elif isinstance(value, (str, os.PathLike)):
            files += expand_inputs([value]).files
        elif isinstance(value, Image.Image):
            files.append(InputFile(f"<image {index}>", read=lambda value=value: value))
        elif isinstance(value, bytes):
            files.append(InputFile(f"<bytes {index}>", read=lambda value=value: value))
        elif isinstance(value, dict):
            files.append(InputFile(str(value.get("path") or f"<image {index}>"), read=_value_reader(value)))
        else:
            raise DeepArtError(
                f"cannot score a {type(value).__name__}: pass paths, PIL images, bytes or datasets image values"
            )
    return files


def _value_reader(value: dict) -> Callable[[], bytes]:
    return lambda: value["bytes"] if value.get("bytes") is not None else Path(value["path"]).read_bytes()


def load_detector(path_or_id: str | os.PathLike, **options) -> Detector:
    """A saved detector (run folder or Hub id), with the preprocessing it was saved with; an ONNX export
    (``deepart-hf export``: its folder or its model.onnx) is scored with onnxruntime, the rest unchanged."""
    from .export import load_onnx_backend, onnx_export_folder

    folder = onnx_export_folder(path_or_id)
    if folder is not None:
        backend, processor = load_onnx_backend(folder, device=options.pop("device", None))
        model, name = backend, folder
    else:
        model, processor = load_trained(str(path_or_id), attribution=True)
        name = path_or_id
    familiarity = Familiarity.load(name)
    if familiarity is None:
        logger.warning(
            "%s carries no familiarity data (%s: a detector saved before it was stored, or not fetched offline): "
            "its predictions do not say whether an image is like its training images",
            name,
            FAMILIARITY_FILE,
        )
    elif not getattr(model, "has_features", True):
        logger.warning("%s gives no features (exported before they were): its familiarity is not used", name)
        familiarity = None
    return Detector(model, processor, familiarity=familiarity, **options)


__all__ = [
    "DECISION_WORDS",
    "DEFAULT_UNCERTAIN",
    "UNCERTAIN_HELP",
    "Detector",
    "Prediction",
    "Row",
    "as_image",
    "check_uncertain",
    "load_detector",
    "read_image",
    "uncertain_interval",
]
