"""Sidecar files: text beside an image, with the same stem, that becomes columns of the image's row.

- ``<stem>.txt`` -> column ``caption`` (the whole text, UTF-8, surrounding white space removed);
- ``<stem>.json`` -> one string column per scalar field of the JSON object, named by its key (numbers
  and booleans as their JSON text, ``null`` as null). Lists and objects are not flattened: they are left
  out and the report says which keys were.

The MIE1517 project's training data is laid out this way (``cropped_image_3.jpg`` beside
``cropped_image_3.json`` holding its prompt, artist and style). A key that would overwrite another
column (``label``, ``width``, ``caption`` from a ``.txt`` ...) is an error naming the file: guessing which
value wins would silently corrupt the data.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import PurePosixPath

from ..errors import SourceError
from .metadata import parse_json_object
from .schema import CAPTION_COLUMN
from .tree import SourceTree, is_image_name

SIDECAR_SUFFIXES = (".txt", ".json")


def pair_sidecars(files: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """(files that are not sidecars, {image: its sidecars}); a sidecar shares its image's folder and stem."""
    images_by_stem = defaultdict(list)
    for rel in files:
        if is_image_name(rel):
            path = PurePosixPath(rel)
            images_by_stem[str(path.with_suffix(""))].append(rel)
    rest, sidecars = [], defaultdict(list)
    for rel in files:
        path = PurePosixPath(rel)
        owners = images_by_stem.get(str(path.with_suffix(""))) if path.suffix.lower() in SIDECAR_SUFFIXES else None
        if owners:
            for image in owners:
                sidecars[image].append(rel)
        else:
            rest.append(rel)
    return rest, dict(sidecars)


def _text(tree: SourceTree, rel: str) -> str:
    try:
        return tree.read(rel).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"sidecar {tree.describe(rel)} is not valid UTF-8 (byte {exc.start})") from None
    except OSError as exc:
        raise SourceError(f"cannot read sidecar {tree.describe(rel)} ({exc.strerror or exc})") from None


def _scalar(value) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def read_sidecars(
    tree: SourceTree, sidecars: list[str], taken: set[str], dropped_keys: set[str]
) -> dict[str, str | None]:
    """The columns ``sidecars`` give one image; keys already in ``taken`` are refused. Non-scalar keys go to ``dropped_keys``."""
    columns: dict[str, str | None] = {}
    for rel in sorted(sidecars, key=lambda r: PurePosixPath(r).suffix.lower() != ".txt"):
        text = _text(tree, rel)
        if rel.lower().endswith(".txt"):
            fields = {CAPTION_COLUMN: text.strip()}
        else:
            data = parse_json_object(text, f"sidecar {tree.describe(rel)}", SourceError)
            fields = {}
            for key, value in data.items():
                if isinstance(value, (list, dict)):
                    dropped_keys.add(key)
                else:
                    fields[key] = _scalar(value)
        clash = sorted(k for k in fields if k in taken or k in columns or not k.strip() or k.startswith("_"))
        if clash:
            raise SourceError(
                f"sidecar {tree.describe(rel)}: key(s) {', '.join(map(repr, clash))} would overwrite another column; rename them"
            )
        columns.update(fields)
    return columns
