"""What a run gives back (``RunResult``): made by the report at the end of training, or read back from a
finished run; a module of its own so that the report and the run need not import each other."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .task import Task


@dataclass(frozen=True)
class RunResult:
    """What a finished run gives back: its folder, test metrics, task and the files of its report."""

    output_dir: Path
    metrics: dict  # the test split's metrics (metrics.json's "test")
    task: Task
    files: tuple[str, ...] = ()  # written to output_dir: metrics.json, predictions.csv, plots, the validity report
    summary: dict | None = None  # everything metrics.json holds
    reused: bool = False  # read back from a finished run of the same config, not trained again
