"""Familiarity: how far an image lies from the images a detector learnt from, measured on the features its head
reads.

A detector scores confidently wherever it is asked, also on collections unlike anything it was trained on, and
there its scores say little. The features a backbone gives already know where the training data lies: the
distance of an image to its k-th nearest stored training image (cosine, on L2-normalised pooled features) is the
deep nearest-neighbour out-of-distribution test (Sun et al., "Out-of-Distribution Detection with Deep Nearest
Neighbors", ICML 2022). An image is *unfamiliar* when that distance is above a threshold: a percentile of the
stored images' own leave-one-out distances (95 by default, so about 5% of images like the training ones are
flagged).

At the end of training the features of the training and validation images (a stratified sample, at most
``MAX_STORED``) are saved beside the model as ``familiarity.safetensors``, with k, the percentile and the
threshold in its metadata. The arithmetic needs only numpy: it is the same for a torch model and an ONNX export.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError, OfflineModeIsEnabled
from safetensors import SafetensorError, safe_open
from safetensors.numpy import load_file, save_file
from threadpoolctl import threadpool_limits

from ..errors import DeepArtError
from ..files import atomic_destination
from .factory import is_hub_id

logger = logging.getLogger(__name__)

FAMILIARITY_FILE = "familiarity.safetensors"  # in the model folder, beside config.json
# A run's own test-split distances, the in-distribution reference of evaluation/familiarity_report.py; an export
# copies it, as its distances are the model's within 1e-4
REFERENCE_FILE = "familiarity_reference.json"
DEFAULT_K = 5  # distance to the k-th nearest stored image
DEFAULT_PERCENTILE = 95.0  # threshold: this percentile of the stored images' own leave-one-out distances
MAX_STORED = 2000  # stratified (by label) sample cap: 2000 x 1280 float32 features are 10 MB
FORMAT = "deepart-hf familiarity 1"

# Rows of queries multiplied at once against the stored features: bounds the similarity block's memory.
_CHUNK = 1024


def _normalised(features: np.ndarray, what: str = "features") -> np.ndarray:
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2:
        raise DeepArtError(f"{what} must be a 2-D array (images, dimensions), not of shape {features.shape}")
    if not np.isfinite(features).all():
        raise DeepArtError(f"{what} hold NaN or infinite values")
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    # an all-zero feature vector (a dead ReLU backbone on a blank image) has no direction: it stays zero, and its
    # cosine similarity to everything is 0, distance 1
    return features / np.where(norms > 0, norms, 1.0)


def _columns(stored: np.ndarray) -> np.ndarray:
    """The stored rows as contiguous float64 columns (D, M), what every product takes."""
    return np.ascontiguousarray(stored.T, dtype=np.float64)


def _kth_nearest_distances(
    queries: np.ndarray, stored_columns: np.ndarray, k: int, *, exclude_self: bool = False
) -> np.ndarray:
    """Cosine distance (1 - cos), in float64, of each normalised query to its k-th nearest normalised stored row,
    given as ``_columns``; with ``exclude_self`` the queries are the stored rows and each row's own similarity is
    left out (leave-one-out)."""
    distances = np.empty(len(queries), dtype=np.float64)
    # One BLAS thread: a detector's batch makes small products, and on a busy machine OpenBLAS's threads wait on
    # each other (16 queries against 2000 x 1280 stored: 180 ms on two threads, 2.3 ms on one, at load 24 on two
    # cores; 1000 queries: 384 ms against 322 ms).
    with threadpool_limits(limits=1, user_api="blas"):
        for start in range(0, len(queries), _CHUNK):
            block = queries[start : start + _CHUNK].astype(np.float64) @ stored_columns
            if exclude_self:
                rows = np.arange(len(block))
                block[rows, start + rows] = -np.inf
            # the k-th largest similarity is the k-th nearest neighbour
            kth = -np.partition(-block, k - 1, axis=1)[:, k - 1]
            distances[start : start + _CHUNK] = 1.0 - kth
    # rounding can put identical directions a hair below zero
    return np.clip(distances, 0.0, 2.0)


def stratified_sample(labels: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of at most ``size`` rows, each label keeping its share (largest remainders), drawn with
    ``seed``: every label present keeps at least one row when ``size`` allows."""
    labels = np.asarray(labels)
    if len(labels) <= size:
        return np.arange(len(labels))
    classes, counts = np.unique(labels, return_counts=True)
    quotas = counts * size / len(labels)
    taken = np.minimum(np.maximum(np.floor(quotas).astype(int), 1 if size >= len(classes) else 0), counts)
    for index in np.argsort(-(quotas - np.floor(quotas)), kind="stable"):
        if taken.sum() >= size:
            break
        taken[index] += taken[index] < counts[index]
    while taken.sum() > size:  # the minimum of one per label overshot: take back from the largest
        taken[np.argmax(taken)] -= 1
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == c), n, replace=False) for c, n in zip(classes, taken) if n]
    return np.sort(np.concatenate(chosen))


@dataclass(frozen=True)
class Familiarity:
    """The stored features of the images a detector learnt from, and the distance above which an image is
    unlike them.

    ``features``: (M, D) float32, L2-normalised pooled head features of training and validation images;
    ``labels``: (M,) their label ids; ``reference_distances``: (M,) the sorted leave-one-out distances of the
    stored images to their own k-th nearest other stored image; ``threshold``: the ``percentile`` of those."""

    features: np.ndarray
    labels: np.ndarray
    reference_distances: np.ndarray
    threshold: float
    k: int = DEFAULT_K
    percentile: float = DEFAULT_PERCENTILE

    @classmethod
    def fit(
        cls,
        features: np.ndarray,
        labels: np.ndarray,
        *,
        k: int = DEFAULT_K,
        percentile: float = DEFAULT_PERCENTILE,
        max_stored: int = MAX_STORED,
        seed: int = 0,
    ) -> Familiarity:
        """Store a stratified sample (at most ``max_stored``, drawn with ``seed``) of ``features`` (any scale:
        they are L2-normalised here) and set the threshold at ``percentile`` of their leave-one-out distances."""
        labels = np.asarray(labels).astype(np.int64)
        features = _normalised(features)
        if len(labels) != len(features):
            raise DeepArtError(f"{len(features)} feature rows but {len(labels)} labels")
        if k < 1:
            raise DeepArtError(f"k must be at least 1, not {k}")
        if not 0 < percentile <= 100:
            raise DeepArtError(f"the familiarity percentile must be in (0, 100], not {percentile}")
        if max_stored <= k:
            raise DeepArtError(f"max_stored ({max_stored}) must be larger than k ({k})")
        if len(features) <= k:
            raise DeepArtError(
                f"familiarity needs more than k={k} images to measure leave-one-out distances, got {len(features)}"
            )
        keep = stratified_sample(labels, max_stored, seed)
        stored = np.ascontiguousarray(features[keep])
        reference = np.sort(_kth_nearest_distances(stored, _columns(stored), k, exclude_self=True))
        return cls(
            features=stored,
            labels=labels[keep],
            reference_distances=reference,
            threshold=float(np.percentile(reference, percentile)),
            k=int(k),
            percentile=float(percentile),
        )

    @property
    def size(self) -> int:
        """How many images are stored."""
        return len(self.features)

    def distances(self, features: np.ndarray) -> np.ndarray:
        """(N,) cosine distance (1 - cos) of each feature row to its k-th nearest stored image; rows are
        L2-normalised here, so raw head features can be passed."""
        features = _normalised(features, "the features to measure")
        if features.shape[1] != self.features.shape[1]:
            raise DeepArtError(
                f"features of {features.shape[1]} dimensions cannot be compared with the {self.features.shape[1]} "
                "stored: they come from another model"
            )
        return _kth_nearest_distances(features, self._columns, self.k)

    @cached_property
    def _columns(self) -> np.ndarray:
        # converted once, not for every batch a detector scores
        return _columns(self.features)

    def percentiles(self, distances: np.ndarray) -> np.ndarray:
        """Per distance, the percentage (0-100) of stored images whose own leave-one-out distance is at most it."""
        distances = np.asarray(distances, dtype=np.float64)
        return 100.0 * np.searchsorted(self.reference_distances, distances, side="right") / self.size

    def familiar(self, distances: np.ndarray) -> np.ndarray:
        """True where a distance is at most the threshold: the image lies among the images the detector learnt from."""
        return np.asarray(distances, dtype=np.float64) <= self.threshold

    def describe(self) -> str:
        """One line for the console and the model card."""
        return (
            f"{self.size} training/validation images stored; an image is unfamiliar beyond cosine "
            f"distance {self.threshold:.4f} to its {_ordinal(self.k)} nearest "
            f"(the {self.percentile:g}th percentile of the stored images' own)"
        )

    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``FAMILIARITY_FILE`` into ``folder`` atomically; k, the percentile and the threshold go in its
        metadata."""
        path = Path(folder) / FAMILIARITY_FILE
        tensors = {
            "features": np.ascontiguousarray(self.features, dtype=np.float32),
            "labels": np.ascontiguousarray(self.labels, dtype=np.int64),
            "reference_distances": np.ascontiguousarray(self.reference_distances, dtype=np.float64),
        }
        metadata = {
            "format": FORMAT,
            "k": str(self.k),
            "percentile": repr(float(self.percentile)),
            "threshold": repr(float(self.threshold)),
        }
        with atomic_destination(path) as temporary:
            save_file(tensors, str(temporary), metadata=metadata)
        return path

    @classmethod
    def load(cls, folder_or_hub_id: str | os.PathLike) -> Familiarity | None:
        """The familiarity saved with a detector (its folder, a file in it such as an export's model.onnx, or its
        Hub id); None when it carries none (a detector saved before familiarity existed, or a Hub copy that cannot
        be fetched offline). A file that cannot be read is refused in one line naming it."""
        path = _locate(folder_or_hub_id)
        return None if path is None else cls.read(path)

    @classmethod
    def read(cls, path: str | os.PathLike) -> Familiarity:
        """A familiarity file; ``DeepArtError`` naming it when it is damaged or not one."""
        path = Path(path)
        try:
            with safe_open(str(path), framework="numpy") as handle:
                metadata = handle.metadata() or {}
            tensors = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise DeepArtError(f"{path} is not a readable familiarity file ({_first_line(exc)})") from None
        try:
            if metadata.get("format") != FORMAT:
                raise ValueError(f"its format is {metadata.get('format')!r}, expected {FORMAT!r}")
            features, labels = tensors["features"], tensors["labels"]
            reference = tensors["reference_distances"].astype(np.float64)
            k, percentile, threshold = int(metadata["k"]), float(metadata["percentile"]), float(metadata["threshold"])
            if features.ndim != 2 or labels.shape != (len(features),) or reference.shape != (len(features),):
                raise ValueError(
                    f"shapes features {features.shape}, labels {labels.shape}, distances {reference.shape} disagree"
                )
            if not (np.isfinite(features).all() and np.isfinite(reference).all() and np.isfinite(threshold)):
                raise ValueError("it holds NaN or infinite values")
            if not 1 <= k < len(features):
                raise ValueError(f"k={k} does not fit {len(features)} stored images")
        except KeyError as exc:
            raise DeepArtError(f"{path} is not a familiarity file: it has no {exc.args[0]!r}") from None
        except ValueError as exc:
            raise DeepArtError(f"{path} is not a usable familiarity file: {_first_line(exc)}") from None
        return cls(features.astype(np.float32), labels.astype(np.int64), np.sort(reference), threshold, k, percentile)


def _locate(folder_or_hub_id: str | os.PathLike) -> Path | None:
    """The familiarity file of a model folder or Hub id, None when there is none (or none can be fetched)."""
    name = str(folder_or_hub_id)
    if os.path.isfile(name):  # a file of the model folder, such as an export's model.onnx
        name = os.path.dirname(os.path.abspath(name))
    if os.path.isdir(name):
        path = Path(name) / FAMILIARITY_FILE
        return path if path.is_file() else None
    if not is_hub_id(name):
        raise DeepArtError(f"no such model folder or Hub id: {name!r}")
    try:
        return Path(hf_hub_download(name, FAMILIARITY_FILE))
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as exc:  # offline, no cached copy
        logger.info("%s of %s cannot be fetched (%s): no familiarity", FAMILIARITY_FILE, name, _first_line(exc))
        return None
    except EntryNotFoundError:  # the Hub answered: the repository holds no familiarity file
        return None
    except Exception as exc:  # DNS, proxy, HTTP errors: the model loaded, so familiarity alone is given up
        logger.info("%s of %s cannot be fetched (%s): no familiarity", FAMILIARITY_FILE, name, _first_line(exc))
        return None


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _first_line(error: BaseException) -> str:
    return next((line for line in str(error).splitlines() if line.strip()), type(error).__name__)


__all__ = [
    "DEFAULT_K",
    "DEFAULT_PERCENTILE",
    "FAMILIARITY_FILE",
    "MAX_STORED",
    "Familiarity",
    "stratified_sample",
]
