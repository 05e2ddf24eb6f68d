"""Per-file columns of a user's collection: the generator (and a style, an artist ...) of each image, read from a
table of files or from the file names, so that any collection can be split and evaluated by generator.

- A table (``--metadata FILE``, CSV or JSONL) has a ``file_name`` column, the image's path inside the source
  (``ai/dalle-img_000013.jpg``, the key Hugging Face's ImageFolder reads from a ``metadata.csv``); every other
  column becomes a column of that image's row. Every image needs a row, and every row an image: a file left
  out or misspelt would silently lose its generator.
- A name pattern (``--name-pattern [LABEL=]REGEX``) is a regular expression searched in the image's path inside
  its label folder; each named group becomes a column. ``ai=...`` applies to the ai images only (a human
  artwork's name usually says something else: its collection, its style). An image a pattern applies to must
  match it.

``generator`` is a ClassLabel, as in the D-ANI and synthetic sources: ``real`` first (a human image's generator;
P(ai) = 1 - P(real) for an attribution model), then the generators found, sorted. An ai image without one, or a
human image given one, is an error naming the file. Every other column is a string.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from datasets import ClassLabel

from ..constants import HUMAN, LABEL2ID, LABELS, REAL_GENERATOR
from ..errors import SourceError
from .metadata import table_rows
from .schema import CORE_COLUMNS, GENERATOR_COLUMN, string_columns
from .tree import SourceTree

FILE_NAME_COLUMN = "file_name"  # the key of a table's rows: the image's path inside the source
SHOWN = 3  # files named in a message before "and N more"


@dataclass(frozen=True)
class NamePattern:
    text: str  # as the user gave it, for messages
    regex: re.Pattern
    label: int | None  # the label whose images it applies to; None: every image


def parse_name_patterns(values: str | list[str] | None) -> list[NamePattern]:
    """``["ai=(?P<generator>[^-]+)-img_", ...]`` -> patterns; a pattern without a named group, or not a regular
    expression, is a one-line error."""
    patterns = []
    for text in [values] if isinstance(values, str) else values or []:
        prefix, sep, rest = text.partition("=")
        label, source = (LABEL2ID[prefix], rest) if sep and prefix in LABEL2ID else (None, text)
        try:
            regex = re.compile(source)
        except re.error as exc:
            raise SourceError(f"--name-pattern {text!r} is not a regular expression ({exc})") from None
        if not regex.groupindex:
            raise SourceError(
                f"--name-pattern {text!r} has no named group; name the column, e.g. (?P<generator>[^-]+)-"
            )
        patterns.append(NamePattern(text, regex, label))
    return patterns


def _listing(items: list[str]) -> str:
    return ", ".join(items[:SHOWN]) + (f" (and {len(items) - SHOWN} more)" if len(items) > SHOWN else "")


def _table_values(path: Path, records: list[dict], tree: SourceTree, taken: set[str], skipped: set[str]) -> list[dict]:
    """Each record's columns from the table at ``path``, in the order of ``records``."""
    rows = table_rows(path)
    header = list(dict.fromkeys(name for _, row in rows for name in row))
    if FILE_NAME_COLUMN not in header:
        raise SourceError(
            f"{path}: no {FILE_NAME_COLUMN} column (each image's path inside the source, e.g. ai/img_1.jpg); "
            f"it has {', '.join(header) or 'no columns'}"
        )
    clash = sorted(
        name
        for name in header
        if name != FILE_NAME_COLUMN and (name in taken or name.startswith("_") or not name.strip())
    )
    if clash:
        raise SourceError(
            f"{path}: column(s) {', '.join(map(repr, clash))} would overwrite the image's own columns; rename them"
        )
    by_file: dict[str, tuple[str, dict]] = {}
    for where, row in rows:
        name = str(row.get(FILE_NAME_COLUMN) or "").strip().removeprefix("./")
        if not name:
            raise SourceError(f"{where}: no {FILE_NAME_COLUMN}")
        if name in by_file:
            raise SourceError(
                f"{where}: {FILE_NAME_COLUMN} {name!r} is listed twice (first at {by_file[name][0].rpartition(': ')[2]})"
            )
        by_file[name] = (where, row)
    known = {record["image_id"] for record in records}
    unknown = sorted(set(by_file) - known - skipped)
    if unknown:
        raise SourceError(f"{path}: {len(unknown)} row(s) name no image of the source: {_listing(unknown)}")
    missing = [record["image_id"] for record in records if record["image_id"] not in by_file]
    if missing:
        raise SourceError(
            f"{tree.describe(missing[0])} has no row in {path}"
            + (f" ({len(missing)} images have none)" if len(missing) > 1 else "")
        )
    columns = [name for name in header if name != FILE_NAME_COLUMN]
    return [{c: _text(by_file[record["image_id"]][1].get(c)) for c in columns} for record in records]


def _text(value) -> str | None:
    return None if value is None or str(value).strip() == "" else str(value).strip()


def _pattern_values(patterns: list[NamePattern], records: list[dict], inside, tree: SourceTree) -> list[dict]:
    values: list[dict] = [{} for _ in records]
    for pattern in patterns:
        unmatched = []
        for index, record in enumerate(records):
            if pattern.label is not None and record["label"] != pattern.label:
                continue
            match = pattern.regex.search(inside(record))
            if match is None:
                unmatched.append(tree.describe(record["image_id"]))
                continue
            for column, value in match.groupdict().items():
                if column in values[index]:
                    raise SourceError(
                        f"{tree.describe(record['image_id'])}: two --name-pattern values give it a {column!r} column"
                    )
                values[index][column] = _text(value)
        if unmatched:
            more = f" ({len(unmatched)} files do not)" if len(unmatched) > 1 else ""
            raise SourceError(f"{unmatched[0]}: its name does not match --name-pattern {pattern.text!r}{more}")
    return values


def read_file_columns(
    records: list[dict],
    tree: SourceTree,
    *,
    table: str | Path | None,
    patterns: str | list[str] | None,
    inside,
    report,
) -> dict:
    """Add the table's and the name patterns' columns to ``records`` (in place); returns their features.

    ``inside(record)`` is the image's path inside its label folder, which a pattern is searched in."""
    patterns = parse_name_patterns(patterns)
    if table is None and not patterns:
        return {}
    taken = {key for record in records for key in record}
    from_patterns = {column for pattern in patterns for column in pattern.regex.groupindex}
    clash = sorted(from_patterns & (taken | set(CORE_COLUMNS)))
    if clash:
        raise SourceError(
            f"--name-pattern group(s) {', '.join(map(repr, clash))} would overwrite the image's own columns; rename them"
        )
    found = _pattern_values(patterns, records, inside, tree) if patterns else [{} for _ in records]
    if table is not None:
        table = Path(table)
        skipped = {item.path for item in report.skipped}
        for values, more in zip(found, _table_values(table, records, tree, taken | from_patterns, skipped)):
            values.update(more)
        if tree.location.is_dir() and table.resolve().is_relative_to(tree.location.resolve()):
            tree.claim(
                table.resolve().relative_to(tree.location.resolve()).as_posix()
            )  # read as the table, not an image
    names = list(dict.fromkeys(column for values in found for column in values))
    for record, values in zip(records, found):
        record.update({column: values.get(column) for column in names})
    features = string_columns(names)
    if GENERATOR_COLUMN in names:
        features[GENERATOR_COLUMN] = _generator_ids(records, tree)
        counts = Counter(features[GENERATOR_COLUMN].names[record[GENERATOR_COLUMN]] for record in records)
        report.notes.append(
            "generators: " + ", ".join(f"{name} {counts[name]}" for name in features[GENERATOR_COLUMN].names)
        )
    if names:
        report.notes.append(
            f"columns from {'the table and the file names' if table and patterns else 'the table' if table else 'the file names'}: {', '.join(names)}"
        )
    return features


def _generator_ids(records: list[dict], tree: SourceTree) -> ClassLabel:
    """The ``generator`` ClassLabel (``real`` first) with each record's value replaced by its id."""
    for record in records:
        value = record[GENERATOR_COLUMN]
        where = tree.describe(record["image_id"])
        if record["label"] == HUMAN:
            if value not in (None, REAL_GENERATOR):
                raise SourceError(
                    f"{where}: a human image given generator {value!r}; a human image's generator is {REAL_GENERATOR!r} "
                    "(give a name pattern for the ai images only: --name-pattern 'ai=(?P<generator>...)')"
                )
            record[GENERATOR_COLUMN] = REAL_GENERATOR
        elif value in (None, REAL_GENERATOR):
            raise SourceError(f"{where}: an {LABELS[record['label']]} image with no generator")
    feature = ClassLabel(names=[REAL_GENERATOR, *sorted({r[GENERATOR_COLUMN] for r in records} - {REAL_GENERATOR})])
    for record in records:
        record[GENERATOR_COLUMN] = feature.str2int(record[GENERATOR_COLUMN])
    return feature
