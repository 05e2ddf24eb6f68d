"""DeepArt's poem metadata: read from a CSV or JSONL file keyed by PaintingID, never invented.

The paper describes the fields but the public repository does not ship them, so a user who has them
passes ``--metadata FILE``. Column names may be the paper's (``PoemTitle``) or ours (``poem_title``).
Every problem names the file and the row, because a silently dropped or misattributed poem would
corrupt the dataset without anyone noticing.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ..errors import MetadataError
from .schema import PAINTING_KEY_PAPER_NAME, POEM_COLUMNS, POEM_COLUMNS_BY_PAPER_NAME

PAINTING_KEY = "painting_id"
_COLUMN_BY_ANY_NAME = {
    **{name: name for name in POEM_COLUMNS},
    **POEM_COLUMNS_BY_PAPER_NAME,
    PAINTING_KEY_PAPER_NAME: PAINTING_KEY,
    PAINTING_KEY: PAINTING_KEY,
}


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise MetadataError(f"metadata file not found: {path}")
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")  # spreadsheet exports often start with a byte-order mark
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise MetadataError(f"{path}: not valid UTF-8 (line {line}, byte {exc.start}); save it as UTF-8") from None


def _rows(path: Path) -> list[tuple[str, dict]]:
    """(where, row) pairs; ``where`` is how an error message points at the row."""
    text = _read_text(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows = []
        for row in reader:
            if None in row:
                raise MetadataError(f"{path}: line {reader.line_num} has more fields than the header")
            rows.append((f"{path}: line {reader.line_num}", row))
        return rows
    if suffix in {".jsonl", ".ndjson"}:
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise MetadataError(f"{path}: line {number} is not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise MetadataError(f"{path}: line {number} is not a JSON object")
            rows.append((f"{path}: line {number}", row))
        return rows
    raise MetadataError(f"{path}: unsupported metadata format {path.suffix!r}; use .csv or .jsonl")


def load_poem_metadata(path: str | Path) -> dict[str, dict[str, str | None]]:
    """Map PaintingID -> {poem column: text or None}."""
    path = Path(path)
    by_painting: dict[str, dict[str, str | None]] = {}
    first_seen: dict[str, str] = {}
    for where, row in _rows(path):
        unknown = [name for name in row if name not in _COLUMN_BY_ANY_NAME]
        if unknown:
            known = ", ".join([PAINTING_KEY_PAPER_NAME, *POEM_COLUMNS_BY_PAPER_NAME])
            raise MetadataError(f"{where}: unknown column(s) {', '.join(map(repr, unknown))}; expected {known}")
        values = {_COLUMN_BY_ANY_NAME[name]: value for name, value in row.items()}
        painting_id = str(values.pop(PAINTING_KEY, "") or "").strip()
        if not painting_id:
            raise MetadataError(f"{where}: no {PAINTING_KEY_PAPER_NAME}")
        if painting_id in by_painting:
            raise MetadataError(f"{where}: duplicate {PAINTING_KEY_PAPER_NAME} {painting_id!r} (first at {first_seen[painting_id]})")
        first_seen[painting_id] = where
        by_painting[painting_id] = {
            column: (None if values.get(column) in (None, "") else str(values[column])) for column in POEM_COLUMNS
        }
    return by_painting


def check_known_paintings(metadata: dict[str, dict], known: set[str], path: str | Path) -> None:
    """A metadata row for a painting that is not in the images is almost always a typo: refuse it."""
    unknown = sorted(set(metadata) - known)
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" (and {len(unknown) - 5} more)" if len(unknown) > 5 else "")
        raise MetadataError(f"{path}: {len(unknown)} row(s) for PaintingIDs with no image in the source: {shown}")
