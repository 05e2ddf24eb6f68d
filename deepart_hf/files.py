"""Files people read, written atomically: a temporary file in the same folder, then ``os.replace``.

An interrupted run or build never leaves a half-written CSV, JSON or PNG behind. Whole folders (a dataset
build) are written the same way, and only a folder holding this tool's own record file is ever replaced or
removed: whatever else a user keeps at that path is refused in one line, never deleted.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import shutil
import signal
import socket
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from .errors import DeepArtError


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


# --- folders --------------------------------------------------------------------------------------------------------


class Terminated(KeyboardInterrupt):
    """SIGTERM while a folder is being written: unwinds like Ctrl-C, so the partial folder is removed."""


@contextlib.contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """Turn SIGTERM into ``Terminated`` for the duration of the block (main thread only), then restore the
    handler that was there. A second SIGTERM during the cleanup is ignored so the cleanup completes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated(f"terminated by signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _temporary_beside(out: Path, kind: str) -> Path:
    """``.NAME.tmp-HOST-PID-XXXXXXXX``: a later run recognises it as this tool's, and whether its writer still lives."""
    return out.with_name(f".{out.name}.{kind}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temporaries(out: str | os.PathLike) -> list[Path]:
    """Remove what a killed write of ``out`` left beside it: folders named by ``_temporary_beside`` on this
    machine by a process that is no longer running, and nothing else. A previous ``out`` that was set aside just
    before its replacement moved in is put back when the replacement never arrived. Returns what was removed."""
    out = Path(out).absolute()
    if not out.parent.is_dir():
        return []
    pattern = re.compile(rf"\.{re.escape(out.name)}\.(?P<kind>tmp|old)-(?P<host>.+)-(?P<pid>\d+)-[0-9a-f]{{8}}")
    removed = []
    for path in sorted(out.parent.iterdir()):
        match = pattern.fullmatch(path.name)
        if not match or match["host"] != socket.gethostname() or path.is_symlink() or not path.is_dir():
            continue
        if _process_alive(int(match["pid"])):
            continue
        if match["kind"] == "old" and not os.path.lexists(out):
            os.replace(path, out)
            continue
        shutil.rmtree(path)
        removed.append(path)
    return removed


def check_replaceable(folder: str | os.PathLike, marker: str, *, error: type[DeepArtError] = DeepArtError) -> None:
    """Refuse in one line to replace or remove ``folder`` unless this tool wrote it: it holds the record file
    ``marker``, or it is empty."""
    folder = Path(folder)
    if folder.is_symlink():
        raise error(f"{folder} is a link: not replaced; remove the link or choose another folder")
    if not folder.is_dir():
        raise error(f"{folder} exists and is not a folder: not replaced")
    if not (folder / marker).is_file() and any(folder.iterdir()):
        raise error(
            f"{folder} was not written by deepart-hf (it holds no {marker}): not replaced; move it away or choose another folder"
        )


def remove_folder_holding(folder: str | os.PathLike, marker: str) -> bool:
    """Remove ``folder`` only if it holds ``marker`` (or is empty); otherwise a one-line ``DeepArtError`` and
    nothing is touched. False when there is no such folder."""
    folder = Path(folder)
    if not os.path.lexists(folder):
        return False
    check_replaceable(folder, marker)
    shutil.rmtree(folder)
    return True


def replace_folder(new: Path, out: Path, marker: str, *, error: type[DeepArtError] = DeepArtError) -> None:
    """Move the complete folder ``new`` to ``out``; an existing ``out`` must hold ``marker``, and is set aside
    until ``new`` is in place, so ``out`` is either the old folder or the new one at any moment."""
    if not os.path.lexists(out):
        os.replace(new, out)
        return
    check_replaceable(out, marker, error=error)
    old = _temporary_beside(out, "old")
    os.replace(out, old)
    try:
        os.replace(new, out)
    except BaseException:
        os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_folder(
    out: str | os.PathLike,
    marker: str,
    record: dict,
    *,
    overwrite: bool = False,
    error: type[DeepArtError] = DeepArtError,
) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``out``. When the block completes, ``record`` is written to
    ``marker`` inside it and it replaces ``out`` (only with ``overwrite``, and only an ``out`` holding ``marker``);
    when it fails, or Ctrl-C or SIGTERM arrives, it is removed. Stale temporaries of ``out`` are removed first."""
    out = Path(out).absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out)
    if os.path.lexists(out):
        if not overwrite:
            raise error(f"output folder {out} already exists; pass --overwrite to replace it")
        check_replaceable(out, marker, error=error)
    with sigterm_unwinds():
        temporary = _temporary_beside(out, "tmp")
        temporary.mkdir()  # unlike mkdtemp's private folder, this honours the umask
        try:
            yield temporary
            write_json(temporary / marker, record)
            replace_folder(temporary, out, marker, error=error)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
