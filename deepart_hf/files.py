"""Files people read, written atomically: a temporary file in the same folder, then ``os.replace``.

An interrupted run or build never leaves a half-written CSV, JSON or PNG behind.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def atomic_destination(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path`, on failure it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    # os.open with 0o666 honours the umask, unlike tempfile's private 0o600 files.
    os.close(os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def write_json(path: str | os.PathLike, obj) -> Path:
    """Pretty JSON; NaN and infinity are refused because strict JSON readers reject them."""
    text = json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False, default=_json_default)
    with atomic_destination(path) as temporary:
        temporary.write_text(text + "\n", encoding="utf-8")
    return Path(path)


def write_csv(path: str | os.PathLike, columns: Sequence[str], rows: Iterable[Sequence]) -> Path:
    """A CSV with a header; floats as their repr, the shortest text that reads back to exactly the same float64
    (None as an empty cell)."""

    def cell(value):
        if value is None:
            return ""
        if isinstance(value, (float, np.floating)):
            return repr(float(value))
        return value

    with atomic_destination(path) as temporary, open(temporary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows([cell(value) for value in row] for row in rows)
    return Path(path)
