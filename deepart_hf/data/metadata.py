"""DeepArt's poem metadata: read from a CSV or JSONL file keyed by PaintingID, never invented.

The paper describes the fields but the public repository does not ship them, so a user who has them
passes ``--metadata FILE``. Column names may be the paper's (``PoemTitle``) or ours (``poem_title``);
any other column is kept as an extra string column under its own name. ``--metadata_columns
PoemText=poem_text,Painting=painting_id,...`` instead keeps only the listed columns, renamed (a name
without ``=`` keeps its name, or ours if it is one of the paper's). Every problem names the file and the row, because a silently dropped or misattributed poem would
corrupt the dataset without anyone noticing.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ..errors import MetadataError
from .schema import CORE_COLUMNS, DEEPART_COLUMNS, PAINTING_KEY_PAPER_NAME, POEM_COLUMNS, POEM_COLUMNS_BY_PAPER_NAME

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


def parse_json_object(text: str, where: str, error: type[Exception]) -> dict:
    """A JSON object, or ``error`` naming ``where``: side information must never be guessed."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{where} is not valid JSON ({exc.msg}, column {exc.colno})") from None
    if not isinstance(data, dict):
        raise error(f"{where} is not a JSON object (found {type(data).__name__})")
    return data


def table_rows(path: Path) -> list[tuple[str, dict]]:
    """(where, row) pairs of a CSV or JSONL file; ``where`` is how an error message points at the row."""
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
            where = f"{path}: line {number}"
            rows.append((where, parse_json_object(line, where, MetadataError)))
        return rows
    raise MetadataError(f"{path}: unsupported metadata format {path.suffix!r}; use .csv or .jsonl")


def parse_metadata_columns(text: str | None) -> dict[str, str] | None:
    """``"PoemText=poem_text,Painting=painting_id,Notes"`` -> {source column: our column}."""
    if not text:
        return None
    mapping = {}
    for item in text.split(","):
        source, sep, target = (part.strip() for part in item.partition("="))
        target = target if sep else _COLUMN_BY_ANY_NAME.get(source, source)
        if not source or not target:
            raise MetadataError(f"invalid --metadata_columns entry {item!r}: expected SOURCE=OURS or SOURCE")
        mapping[source] = target
    return mapping


def _column_names(path: Path, header: list[str], columns: dict[str, str] | None) -> dict[str, str]:
    """{file column: our column} for the columns kept, checked against the columns other sources fill."""
    if columns is None:
        names = {name: _COLUMN_BY_ANY_NAME.get(name, name) for name in header}
    else:
        missing = [name for name in columns if name not in header]
        if missing:
            raise MetadataError(
                f"{path}: --metadata_columns names column(s) {', '.join(map(repr, missing))} the file does not have (it has {', '.join(header)})"
            )
        names = dict(columns)
    if PAINTING_KEY not in names.values():
        raise MetadataError(
            f"{path}: no {PAINTING_KEY_PAPER_NAME} column; map the file's key column with --metadata_columns NAME=painting_id"
        )
    taken = (set(CORE_COLUMNS) | set(DEEPART_COLUMNS)) - set(POEM_COLUMNS) - {PAINTING_KEY}
    clash = sorted({target for target in names.values() if target in taken or target.startswith("_")})
    seen: dict[str, str] = {}
    for name, target in names.items():
        if target in seen:
            raise MetadataError(f"{path}: columns {seen[target]!r} and {name!r} both fill {target!r}")
        seen[target] = name
    if clash:
        raise MetadataError(
            f"{path}: column(s) {', '.join(map(repr, clash))} would overwrite the image's own columns; rename them with --metadata_columns"
        )
    return names


def load_poem_metadata(path: str | Path, columns: dict[str, str] | None = None) -> dict[str, dict[str, str | None]]:
    """Map PaintingID -> {poem column and any extra column: text or None}; ``columns`` selects and renames."""
    path = Path(path)
    by_painting: dict[str, dict[str, str | None]] = {}
    first_seen: dict[str, str] = {}
    rows = table_rows(path)
    names = _column_names(path, list(dict.fromkeys(name for _, row in rows for name in row)), columns)
    for where, row in rows:
        values = {names[name]: value for name, value in row.items() if name in names}
        painting_id = str(values.pop(PAINTING_KEY, "") or "").strip()
        if not painting_id:
            raise MetadataError(f"{where}: no {PAINTING_KEY_PAPER_NAME}")
        if painting_id in by_painting:
            raise MetadataError(
                f"{where}: duplicate {PAINTING_KEY_PAPER_NAME} {painting_id!r} (first at {first_seen[painting_id]})"
            )
        first_seen[painting_id] = where
        by_painting[painting_id] = {column: _text(values.get(column)) for column in [*POEM_COLUMNS, *values]}
    extra = metadata_extra_columns(by_painting)
    for row in by_painting.values():  # a JSONL row may lack a column another row has
        for column in extra:
            row.setdefault(column, None)
    return by_painting


def _text(value) -> str | None:
    return None if value in (None, "") else str(value)


def metadata_extra_columns(metadata: dict[str, dict]) -> list[str]:
    """Columns of the metadata beyond the paper's poem columns, in the order first met."""
    seen = dict.fromkeys(column for row in metadata.values() for column in row if column not in POEM_COLUMNS)
    return list(seen)


def check_known_paintings(metadata: dict[str, dict], known: set[str], path: str | Path) -> None:
    """A metadata row for a painting that is not in the images is almost always a typo: refuse it."""
    unknown = sorted(set(metadata) - known)
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" (and {len(unknown) - 5} more)" if len(unknown) > 5 else "")
        raise MetadataError(f"{path}: {len(unknown)} row(s) for PaintingIDs with no image in the source: {shown}")
