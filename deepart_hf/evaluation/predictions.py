"""Per-image predictions as a CSV a reviewer can open: id, true label, predicted label, probability of ai and
its log-odds (the score the ranking metrics use, so the file reproduces metrics.json exactly), and for a
generator-attribution model every class's probability."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..constants import ID2LABEL, LABELS
from ..files import write_csv
from ..models.scores import probabilities_from_log_odds

# a detector's columns; an attribution model's file adds prob_<class> for each class
PREDICTION_COLUMNS = ["id", "label", "predicted", "prob_ai", "log_odds_ai"]


def class_probability_column(name: str) -> str:
    return f"prob_{name}"


def write_predictions_csv(
    path: str | os.PathLike,
    ids: Sequence,
    references: Sequence[int],
    predictions: Sequence[int],
    log_odds: Sequence[float] | None,
    *,
    names: Sequence[str] = LABELS,
    class_probabilities=None,
) -> Path:
    """One row per image: id, label, predicted (class names), then prob_ai and log_odds_ai (float64, exact) when
    the model gives P(ai), then ``prob_<class>`` for each of ``names`` when ``class_probabilities`` are given
    (an attribution model's)."""
    names = list(names)
    columns = {"id": ids, "references": references, "predictions": predictions}
    if log_odds is not None:
        columns["log_odds"] = log_odds
    if class_probabilities is not None:
        columns["class_probabilities"] = class_probabilities
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"{', '.join(columns)} must have the same length, got {lengths}")
    header = PREDICTION_COLUMNS[:3]
    detection = None
    if log_odds is not None:
        log_odds = np.asarray(log_odds, dtype=np.float64)
        detection = zip(probabilities_from_log_odds(log_odds), log_odds)
        header += PREDICTION_COLUMNS[3:]
    if class_probabilities is not None:
        class_probabilities = np.asarray(class_probabilities, dtype=np.float64)
        header += [class_probability_column(name) for name in names]
    rows = []
    for row, (image_id, reference, prediction) in enumerate(zip(ids, references, predictions)):
        cells = [image_id, names[int(reference)], names[int(prediction)]]
        if detection is not None:
            cells += [float(value) for value in next(detection)]
        if class_probabilities is not None:
            cells += [float(value) for value in class_probabilities[row]]
        rows.append(cells)
    return write_csv(path, header, rows)


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
