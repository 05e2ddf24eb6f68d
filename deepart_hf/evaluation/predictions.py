"""Per-image predictions as a CSV a reviewer can open: id, true label, predicted label, probability of ai."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..constants import ID2LABEL
from ..files import atomic_destination


def write_predictions_csv(
    path: str | os.PathLike,
    ids: Sequence,
    references: Sequence[int],
    predictions: Sequence[int],
    scores: Sequence[float],
) -> Path:
    """One row per image: id, label, predicted (label names), prob_ai."""
    columns = {"id": ids, "references": references, "predictions": predictions, "scores": scores}
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"ids, references, predictions and scores must have the same length, got {lengths}")
    # str() of a numpy scalar is the shortest text that reads back to the same value in its own dtype.
    scores = np.asarray(scores)
    with atomic_destination(path) as temporary:
        with open(temporary, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "label", "predicted", "prob_ai"])
            for image_id, reference, prediction, score in zip(ids, references, predictions, scores):
                writer.writerow([image_id, ID2LABEL[int(reference)], ID2LABEL[int(prediction)], str(score)])
    return Path(path)
