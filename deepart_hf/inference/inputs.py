"""What ``predict`` reads: files, folders (recursively), glob patterns and ``.zip`` archives, as a flat list.

Every input becomes an ``InputFile`` whose bytes are read only when it is scored, by a decoding thread; zip
members are read from the archive without extracting it. A path that cannot be used (missing, no match, a
damaged archive) becomes an ``InputFile`` that carries its error, so it gets its own row and the run goes on.

Folders and archives are filtered by extension (the ones Pillow registers), since they often hold notes and
metadata beside the images; a file named explicitly is always tried, whatever its name.
"""

from __future__ import annotations

import glob
import os
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

GLOB_CHARACTERS = set("*?[")
ARCHIVE_SUFFIXES = (".zip",)


def image_suffixes() -> set[str]:
    return {suffix.lower() for suffix in Image.registered_extensions()}


@dataclass
class InputFile:
    """One thing to score: a name for the table, and how to get its bytes or image (or why it cannot be read)."""

    name: str
    read: Callable[[], bytes | Image.Image] | None = None
    error: str | None = None


@dataclass
class Expanded:
    files: list[InputFile] = field(default_factory=list)
    skipped: int = 0  # files inside folders and archives left out because their extension is not an image's


def expand_inputs(paths: Iterable[str | os.PathLike]) -> Expanded:
    """Files, folders, globs and zip archives -> the files to score, in the order given (folders sorted)."""
    out, suffixes, seen = Expanded(), image_suffixes(), set()
    for given in paths:
        for item in _expand_one(str(given), suffixes, out):
            key = item.name if item.read is None else os.path.normcase(os.path.abspath(item.name))
            if key not in seen:  # the same file given twice (a folder and a glob inside it) is scored once
                seen.add(key)
                out.files.append(item)
    return out


def _expand_one(given: str, suffixes: set[str], out: Expanded) -> Iterator[InputFile]:
    path = Path(given)
    if not path.exists() and GLOB_CHARACTERS & set(given):
        matches = sorted(glob.glob(given, recursive=True))
        if not matches:
            yield InputFile(given, error="no file matches this pattern")
        for match in matches:
            yield from _expand_path(Path(match), match, suffixes, out, explicit=True)
        return
    yield from _expand_path(path, given, suffixes, out, explicit=True)


def _expand_path(path: Path, name: str, suffixes: set[str], out: Expanded, *, explicit: bool) -> Iterator[InputFile]:
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
            yield from _expand_path(
                child, os.path.join(name, child.relative_to(path).as_posix()), suffixes, out, explicit=False
            )
    elif path.suffix.lower() in ARCHIVE_SUFFIXES and (explicit or path.is_file()):
        yield from _archive_members(path, name, suffixes, out)
    elif not path.exists():
        yield InputFile(name, error="no such file or folder")
    elif explicit or path.suffix.lower() in suffixes:
        yield InputFile(name, read=path.read_bytes)
    else:
        out.skipped += 1


def _archive_members(path: Path, name: str, suffixes: set[str], out: Expanded) -> Iterator[InputFile]:
    if not path.exists():
        yield InputFile(name, error="no such file or folder")
        return
    try:
        # ZipFile reads members under a lock on the shared file, so decoding threads may share the archive.
        archive = zipfile.ZipFile(path)
        members = sorted(info.filename for info in archive.infolist() if not info.is_dir())
    except (zipfile.BadZipFile, OSError) as exc:
        yield InputFile(name, error=f"not a readable zip archive ({exc})")
        return
    for member in members:
        if Path(member).suffix.lower() in suffixes and not Path(member).name.startswith("."):
            yield InputFile(f"{name}/{member}", read=_member_reader(archive, member))
        else:
            out.skipped += 1


def _member_reader(archive: zipfile.ZipFile, member: str) -> Callable[[], bytes]:
    return lambda: archive.read(member)
