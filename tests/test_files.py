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


def test_atomic_folder_refuses_an_existing_folder_and_replaces_it_whole_when_asked(tmp_path):
    from deepart_hf.files import atomic_folder

    target = tmp_path / "model"
    with atomic_folder(target) as temporary:
        (temporary / "weights").write_text("first")
    with pytest.raises(FileExistsError), atomic_folder(target):
        pass
    with pytest.raises(RuntimeError), atomic_folder(target, replace=True) as temporary:
        (temporary / "weights").write_text("half")
        raise RuntimeError("interrupted")
    assert (target / "weights").read_text() == "first"  # a failed write leaves the old folder as it was
    with atomic_folder(target, replace=True) as temporary:
        (temporary / "weights").write_text("second")
    assert (target / "weights").read_text() == "second" and sorted(os.listdir(tmp_path)) == ["model"]
