"""Running a project command in a subprocess and signalling it at a chosen moment, for the fault-injection tests."""

import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import REPO

TRAIN_SCRIPT = REPO / "train.py"
# resnet10t at 64 px on 12 + 12 synthetic images: 3 epochs of 3 optimizer steps, a checkpoint after each epoch
# (checkpoint-3, -6, -9). (A resume within an epoch is as exact: tests/training/test_example_seeds.py.)
TRAINING = [
    "--model", "resnet10t", "--from_scratch", "--image_size", "64", "--num_train_epochs", "3",
    "--per_device_train_batch_size", "8", "--per_device_eval_batch_size", "8", "--dataloader_num_workers", "0",
    "--save_strategy", "epoch", "--save_total_limit", "2", "--robustness", "none", "--n_resamples", "50",
]  # fmt: skip


def training_command(data: Path, out: Path, *extra) -> list[str]:
    return [*TRAINING, "--dataset", str(data), "--output_dir", str(out), *map(str, extra)]


def environment(**extra) -> dict:
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'tests'}", "TQDM_DISABLE": "1", **extra}


def python(*argv, **options) -> subprocess.CompletedProcess:
    """A Python subprocess in the project, its output captured as text."""
    return subprocess.run(
        [sys.executable, *map(str, argv)], capture_output=True, text=True, env=environment(), **options
    )


def signalled_when(
    argv: list, moment: Callable[[], bool], sig: int = signal.SIGKILL, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run ``python *argv`` and send it ``sig`` as soon as ``moment()`` is true (checked every millisecond).
    Fails when the process ends before that moment: the fault would not have been injected."""
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(
            [sys.executable, *map(str, argv)], stdout=output, stderr=subprocess.STDOUT, text=True, env=environment()
        )
        deadline = time.monotonic() + timeout
        try:
            while not moment():
                if process.poll() is not None or time.monotonic() > deadline:
                    output.seek(0)
                    pytest.fail(f"ended (code {process.returncode}) before the moment to signal it:\n{output.read()}")
                time.sleep(0.001)
            process.send_signal(sig)
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        output.seek(0)
        return subprocess.CompletedProcess(argv, process.returncode, output.read(), "")


def no_bigger_files_than(limit: int) -> Callable[[], None]:
    """A subprocess's ``preexec_fn`` simulating a full disk: a write past ``limit`` bytes fails with EFBIG."""

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the process at the limit
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limited
