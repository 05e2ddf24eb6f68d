"""A user's own collection: ``<label>/...`` folders, named human/ai or mapped with ``--label_map``.

``read_labelled_folders`` is also how the Dall.E/Paintings and genre sources read their layouts: each
is a set of folders whose name says the label, plus some fixed columns (a split, a genre). Sidecar files
(``<stem>.txt``, ``<stem>.json``) beside an image become columns of its row (``deepart_hf.data.sidecars``).
The source may be a folder, a ``.zip``, or a folder of zips, one per label (``deepart_hf.data.tree``).
A table of files (``--metadata``) or a name pattern (``--name-pattern``) gives each image a generator and any
other column (``deepart_hf.data.file_columns``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ...constants import LABEL2ID, LABELS
from ...errors import LayoutError, SourceError
from ..file_columns import read_file_columns
from ..images import read_images
from ..schema import CORE_COLUMNS, GENERATOR_COLUMN, image_features, string_columns
from ..sidecars import pair_sidecars, read_sidecars
from ..tree import ARCHIVE_SUFFIX, SourceTree
from .base import BuildReport, CardInfo, Collection, SourceOptions, register_source


@dataclass
class LabelledFolder:
    path: str  # the folder inside the source tree
    label: int
    source: str  # who made these images, for the `source` column
    extra: dict = field(default_factory=dict)  # fixed column values for every image in the folder


def read_labelled_folders(
    tree: SourceTree, folders: list[LabelledFolder], report: BuildReport, options: SourceOptions
) -> tuple[list[dict], dict]:
    """(one record per readable image of ``folders``, the sidecar columns' features); unreadable files go to the report."""
    files_by_folder, sidecars = [], {}
    for folder in folders:
        files = tree.files(folder.path)
        if not files:
            raise SourceError(f"{tree.describe(folder.path)} is empty")
        files, found = pair_sidecars(files)
        files_by_folder.append(files)
        sidecars.update(found)
    all_files = [f for files in files_by_folder for f in files]
    images = {
        image.relpath: image
        for image in read_images(
            tree, all_files, report, strict=options.strict, workers=options.workers, near=options.near_duplicates
        )
    }
    taken = set(CORE_COLUMNS) | {key for folder in folders for key in folder.extra}
    dropped_keys: set[str] = set()
    records, sidecar_columns = [], {}
    for folder, files in zip(folders, files_by_folder):
        for rel in files:
            image = images.get(rel)
            if image is None:
                continue
            columns = read_sidecars(tree, sidecars.get(rel, []), taken, dropped_keys)
            sidecar_columns.update(dict.fromkeys(columns))
            records.append(image.record(folder.label, folder.source, **folder.extra, **columns))
    for rel in (r for found in sidecars.values() for r in found):
        tree.claim(rel)  # a sidecar of an unreadable image was accounted for with it
    for record in records:
        for column in sidecar_columns:
            record.setdefault(column, None)
    if dropped_keys:
        report.notes.append(
            f"sidecar JSON fields that are lists or objects were left out: {', '.join(sorted(dropped_keys))}"
        )
    if sidecar_columns:
        report.notes.append(f"columns from sidecar files: {', '.join(sidecar_columns)}")
    if not records:
        raise SourceError(f"no readable images in {tree.describe()} ({len(report.skipped)} file(s) skipped)")
    return records, string_columns(sidecar_columns)


def parse_label_map(text: str | None) -> dict[str, str] | None:
    """``"real=human,fake=ai"`` -> {"real": "human", "fake": "ai"}."""
    if not text:
        return None
    mapping = {}
    for item in text.split(","):
        folder, sep, label = (part.strip() for part in item.partition("="))
        if not sep or not folder or label not in LABEL2ID:
            raise SourceError(
                f"invalid --label_map entry {item!r}: expected NAME=LABEL (a folder or column value) with LABEL one of {', '.join(LABELS)}"
            )
        mapping[folder] = label
    return mapping


def label_of_folder(name: str, label_map: dict[str, str] | None, names: dict[str, int] | None = None) -> int | None:
    """The label a folder's name says: ``label_map`` when given, else ``names`` (default: human/ai), case-insensitive."""
    if label_map is not None:
        # A zip read as a folder is named by its stem; the archive's own name maps it too.
        label = label_map.get(name, label_map.get(name + ARCHIVE_SUFFIX))
        return None if label is None else LABEL2ID[label]
    return (names or LABEL2ID).get(name.lower())


def label_in_name(name: str) -> int | None:
    """The one label that is a word of ``name`` (``unseen_AI_images`` -> ai); None when none or both are."""
    words = {w.lower() for w in re.split(r"[^A-Za-z0-9]+|(?<=[a-z])(?=[A-Z])", name) if w}
    found = [LABEL2ID[label] for label in LABELS if label in words]
    return found[0] if len(found) == 1 else None


def label_folders(
    tree: SourceTree, folder: str, label_map: dict[str, str] | None, report: BuildReport | None = None
) -> tuple[list[tuple[str, int]], list[str]]:
    """([(sub-folder, label)], [sub-folders that name no label]) of ``folder``.

    Without ``--label_map``, a folder whose name has one label as a word (MIE's ``unseen_AI_images``) is
    read as that label, and the report says so.
    """
    found, unknown = [], []
    for name in tree.subfolders(folder):
        label = label_of_folder(name, label_map)
        if label is None and label_map is None and (label := label_in_name(name)) is not None and report is not None:
            report.notes.append(
                f"folder {name}/ read as {LABELS[label]!r} (its name has that word; --label_map overrides)"
            )
        (unknown.append(name) if label is None else found.append((name, label)))
    return found, unknown


def matches(tree: SourceTree, folder: str) -> bool:
    return bool(label_folders(tree, folder, None)[0])


@register_source(
    "folder", description="your own <label>/... folders (human/ai, or mapped with --label_map)", matches=matches
)
def collect(source: Path | None, options: SourceOptions) -> Collection:
    tree = SourceTree.open(source, "source folder")
    report = BuildReport(source="folder")
    found, unknown = label_folders(tree, "", options.label_map, report)
    hint = (
        "map them with --label_map, e.g. --label_map real=human,fake=ai"
        if options.label_map is None
        else "add them to --label_map"
    )
    if unknown and found:
        raise SourceError(
            f"{tree.describe()}: folder(s) {', '.join(sorted(unknown))} are not a label ({', '.join(LABELS)}); {hint}"
        )
    if not found:
        named = f"; folder(s) {', '.join(sorted(unknown))} are not a label ({hint})" if unknown else ""
        raise LayoutError(
            f"{tree.describe()} has no label folders; expected {'/ and '.join(LABELS)}/ (or --label_map){named}"
        )
    folders = [LabelledFolder(name, label, source=f"{LABELS[label]} ({name}/)") for name, label in found]
    present = {f.label for f in folders}
    if len(present) < len(LABELS):
        report.notes.append(f"only class {LABELS[present.pop()]!r} present")
    records, sidecar_columns = read_labelled_folders(tree, folders, report, options)
    file_columns = read_file_columns(
        records,
        tree,
        table=options.metadata,
        patterns=options.extra.get("name_pattern"),
        inside=lambda record: record["image_id"].partition("/")[2],  # the path inside its label folder
        report=report,
    )
    name = (
        PurePosixPath(tree.location.name).stem if tree.location.suffix.lower() == ARCHIVE_SUFFIX else tree.location.name
    )
    return Collection(
        name="folder",
        records=records,
        features=image_features({**sidecar_columns, **file_columns}),
        card=CardInfo(
            pretty_name=f"{name}: human vs AI images",
            summary=f"Images from `{tree.location.name}`, one sub-folder per class, published with deepart-hf.",
            caveats=["Built from a local folder: check where the images come from and their licences before sharing."],
        ),
        report=report,
        tree=tree,
        stratify_by=("label", GENERATOR_COLUMN) if GENERATOR_COLUMN in file_columns else ("label",),
    )
