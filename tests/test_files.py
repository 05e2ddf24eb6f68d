"""Files people read are written atomically and as strict JSON."""

import json
import os

import numpy as np
import pytest

from deepart_hf.evaluation.detector_metric.detector_metric import detection_metrics
from deepart_hf.files import write_json


def test_write_json_is_strict_and_atomic(tmp_path):
    results = detection_metrics(predictions=[0, 1, 1], references=[0, 1, 1], scores=[0.1, 0.9, 0.6])
    path = write_json(tmp_path / "metrics.json", {"test": results, "seed": np.int64(42)})
    assert json.loads(path.read_text()) == {"test": results, "seed": 42}
    with pytest.raises(ValueError):
        write_json(tmp_path / "nan.json", {"auroc": float("nan")})
    assert sorted(os.listdir(tmp_path)) == ["metrics.json"]
