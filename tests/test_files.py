"""Files people read are written atomically and as strict JSON; folders are replaced only if this tool wrote them."""

import json
import os
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest

from deepart_hf.errors import DeepArtError
from deepart_hf.evaluation.detector_metric.detector_metric import detection_metrics
from deepart_hf.files import Terminated, atomic_folder, remove_folder_holding, remove_stale_temporaries, write_json


def test_write_json_is_strict_and_atomic(tmp_path):
    results = detection_metrics(predictions=[0, 1, 1], references=[0, 1, 1], scores=[0.1, 0.9, 0.6])
    path = write_json(tmp_path / "metrics.json", {"test": results, "seed": np.int64(42)})
    assert json.loads(path.read_text()) == {"test": results, "seed": 42}
    with pytest.raises(ValueError):
        write_json(tmp_path / "nan.json", {"auroc": float("nan")})
    assert sorted(os.listdir(tmp_path)) == ["metrics.json"]


def test_only_a_folder_holding_the_marker_is_removed(tmp_path):
    user = tmp_path / "thesis"
    (user / "sub").mkdir(parents=True)
    (user / "sub" / "thesis.tex").write_text("chapter 1")
    with pytest.raises(DeepArtError, match=r"thesis was not written by deepart-hf \(it holds no run_args.json\)"):
        remove_folder_holding(user, "run_args.json")
    assert (user / "sub" / "thesis.tex").read_text() == "chapter 1"
    run = tmp_path / "run"
    (run / "checkpoint-1").mkdir(parents=True)
    (run / "run_args.json").write_text("{}")
    assert remove_folder_holding(run, "run_args.json") and not run.exists()
    assert not remove_folder_holding(run, "run_args.json")  # nothing there


def test_an_atomic_folder_is_removed_when_sigterm_arrives_and_the_handler_is_restored(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    with (
        pytest.raises(Terminated),
        atomic_folder(tmp_path / "out", "marker.json", {"written_by": "deepart-hf"}) as folder,
    ):
        (folder / "half.parquet").write_bytes(b"PAR1")
        os.kill(os.getpid(), signal.SIGTERM)
    assert os.listdir(tmp_path) == [] and signal.getsignal(signal.SIGTERM) is before
    with atomic_folder(tmp_path / "out", "marker.json", {"written_by": "deepart-hf"}) as folder:
        (folder / "whole.parquet").write_bytes(b"PAR1")
    assert sorted(os.listdir(tmp_path / "out")) == ["marker.json", "whole.parquet"] and os.listdir(tmp_path) == ["out"]


def test_stale_temporaries_of_dead_writers_are_removed_and_nothing_else(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    host = socket.gethostname()
    out = tmp_path / "dataset"
    out.mkdir()
    for name in (
        f".dataset.tmp-{host}-{dead}-0123abcd",
        f".dataset.tmp-{host}-{os.getpid()}-0123abcd",
        ".dataset.tmp-notes",
        f".other.tmp-{host}-{dead}-0123abcd",
    ):
        (tmp_path / name).mkdir()
        (tmp_path / name / "f").write_text("x")
    removed = remove_stale_temporaries(out)
    assert [p.name for p in removed] == [f".dataset.tmp-{host}-{dead}-0123abcd"]
    assert sorted(os.listdir(tmp_path)) == sorted(
        [
            "dataset",
            f".dataset.tmp-{host}-{os.getpid()}-0123abcd",
            ".dataset.tmp-notes",
            f".other.tmp-{host}-{dead}-0123abcd",
        ]
    )


def test_a_previous_folder_set_aside_by_a_killed_replacement_is_put_back(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    aside = tmp_path / f".dataset.old-{socket.gethostname()}-{dead}-0123abcd"
    aside.mkdir()
    (aside / "marker.json").write_text("{}")
    remove_stale_temporaries(tmp_path / "dataset")
    assert os.listdir(tmp_path) == ["dataset"] and (tmp_path / "dataset" / "marker.json").exists()
