"""Per-image predictions as a CSV a reviewer can open: id, true label, predicted label, probability of ai and
its log-odds (the score the ranking metrics use, so the file reproduces metrics.json exactly)."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..constants import ID2LABEL
from ..files import atomic_destination
from ..models.scores import probabilities_from_log_odds

PREDICTION_COLUMNS = ["id", "label", "predicted", "prob_ai", "log_odds_ai"]


def write_predictions_csv(
    path: str | os.PathLike,
    ids: Sequence,
    references: Sequence[int],
    predictions: Sequence[int],
    log_odds: Sequence[float],
) -> Path:
    """One row per image: id, label, predicted (label names), prob_ai, log_odds_ai (both float64, exact)."""
    columns = {"id": ids, "references": references, "predictions": predictions, "log_odds": log_odds}
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"ids, references, predictions and log_odds must have the same length, got {lengths}")
    log_odds = np.asarray(log_odds, dtype=np.float64)
    probabilities = probabilities_from_log_odds(log_odds)
    with atomic_destination(path) as temporary, open(temporary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(PREDICTION_COLUMNS)
        for image_id, reference, prediction, probability, score in zip(
            ids, references, predictions, probabilities, log_odds
        ):
            # repr of a float is the shortest text that reads back to exactly the same float64
            writer.writerow(
                [
                    image_id,
                    ID2LABEL[int(reference)],
                    ID2LABEL[int(prediction)],
                    repr(float(probability)),
                    repr(float(score)),
                ]
            )
    return Path(path)


def read_predictions_csv(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The columns of a predictions.csv: ``id`` (strings), ``label``/``predicted`` (ids), ``prob_ai``, ``log_odds_ai``."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    label_ids = {name: index for index, name in ID2LABEL.items()}
    return {
        "id": np.array([row["id"] for row in rows], dtype=object),
        "label": np.array([label_ids[row["label"]] for row in rows], dtype=np.int64),
        "predicted": np.array([label_ids[row["predicted"]] for row in rows], dtype=np.int64),
        "prob_ai": np.array([float(row["prob_ai"]) for row in rows], dtype=np.float64),
        "log_odds_ai": np.array([float(row["log_odds_ai"]) for row in rows], dtype=np.float64),
    }
