"""predictions.csv: one row per image, exact floats, written atomically, read back."""

import csv
import os

import numpy as np
import pytest

from deepart_hf.constants import AI, HUMAN, LABELS
from deepart_hf.evaluation.predictions import read_predictions_csv, write_predictions_csv


def test_predictions_csv(tmp_path):
    log_odds = np.array([np.log(0.125 / 0.875), np.log(0.75 / 0.25), np.log(0.3 / 0.7), 45.5])
    path = write_predictions_csv(
        tmp_path / "out" / "predictions.csv",
        ids=["Gushici-1", "Gushici-1-ai", 7, "sure"],
        references=[HUMAN, AI, AI, AI],
        predictions=[HUMAN, AI, HUMAN, AI],
        log_odds=log_odds,
    )
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["id"] for row in rows] == ["Gushici-1", "Gushici-1-ai", "7", "sure"]
    assert [row["label"] for row in rows] == [LABELS[HUMAN], LABELS[AI], LABELS[AI], LABELS[AI]]
    assert [row["predicted"] for row in rows] == [LABELS[HUMAN], LABELS[AI], LABELS[HUMAN], LABELS[AI]]
    assert [float(row["prob_ai"]) for row in rows] == pytest.approx([0.125, 0.75, 0.3, 1.0], abs=1e-15)
    back = read_predictions_csv(path)
    assert back["log_odds_ai"].tolist() == log_odds.tolist()  # every float64 bit survives the text
    assert back["label"].tolist() == [HUMAN, AI, AI, AI]
    assert os.listdir(path.parent) == ["predictions.csv"]  # no temporary file left behind
    with pytest.raises(ValueError, match="same length"):
        write_predictions_csv(tmp_path / "bad.csv", ids=[1], references=[0, 1], predictions=[0], log_odds=[0.1])
    assert not (tmp_path / "bad.csv").exists()
