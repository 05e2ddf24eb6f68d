"""A user's own collection: ``<label>/...`` folders, named human/ai or mapped with ``--label-map``.

``read_labelled_folders`` is also how the Dall.E/Paintings and genre sources read their layouts: each
is a set of folders whose name says the label, plus some fixed columns (a split, a genre).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...constants import LABEL2ID, LABELS
from ...errors import SourceError
from ..images import list_files, read_images, require_dir
from ..schema import image_features
from .base import BuildReport, CardInfo, Collection, SourceOptions, register_source


@dataclass
class LabelledFolder:
    path: Path
    label: int
    source: str  # who made these images, for the `source` column
    extra: dict = field(default_factory=dict)  # fixed column values for every image in the folder


def read_labelled_folders(root: Path, folders: list[LabelledFolder], report: BuildReport, options: SourceOptions) -> list[dict]:
    """One record per readable image of ``folders``; unreadable files go to the report."""
    files_by_folder = []
    for folder in folders:
        files = list_files(folder.path)
        if not files:
            raise SourceError(f"{folder.path} is empty")
        files_by_folder.append(files)
    all_files = [f for files in files_by_folder for f in files]
    images = {image.relpath: image for image in read_images(root, all_files, report, strict=options.strict, workers=options.workers)}
    records = []
    for folder, files in zip(folders, files_by_folder):
        for path in files:
            image = images.get(path.relative_to(root).as_posix())
            if image is None:
                continue
            records.append(
                {
                    "image": image.as_feature(),
                    "label": folder.label,
                    "image_id": image.relpath,
                    "source": folder.source,
                    "file_format": image.file_format,
                    "width": image.width,
                    "height": image.height,
                    **folder.extra,
                }
            )
    if not records:
        raise SourceError(f"no readable images in {root} ({len(report.skipped)} file(s) skipped)")
    return records


def parse_label_map(text: str | None) -> dict[str, str] | None:
    """``"real=human,fake=ai"`` -> {"real": "human", "fake": "ai"}."""
    if not text:
        return None
    mapping = {}
    for item in text.split(","):
        folder, sep, label = (part.strip() for part in item.partition("="))
        if not sep or not folder or label not in LABEL2ID:
            raise SourceError(f"invalid --label-map entry {item!r}: expected NAME=LABEL (a folder or column value) with LABEL one of {', '.join(LABELS)}")
        mapping[folder] = label
    return mapping


def label_of_folder(name: str, label_map: dict[str, str] | None) -> int | None:
    if label_map is not None:
        return LABEL2ID[label_map[name]] if name in label_map else None
    return LABEL2ID.get(name.lower())


def subfolders(root: Path, report: BuildReport) -> list[Path]:
    """Sub-folders of root; loose files beside them are reported, not silently ignored."""
    entries = sorted(root.iterdir())
    for loose in (e for e in entries if e.is_file()):
        report.skip(loose.relative_to(root).as_posix(), "not inside a class folder")
    return [e for e in entries if e.is_dir()]


@register_source("folder", description="your own <label>/... folders (human/ai, or mapped with --label-map)")
def collect(source: Path | None, options: SourceOptions) -> Collection:
    root = require_dir(Path(source), "source folder")
    report = BuildReport(source="folder")
    folders, unknown = [], []
    for path in subfolders(root, report):
        label = label_of_folder(path.name, options.label_map)
        if label is None:
            unknown.append(path.name)
        else:
            folders.append(LabelledFolder(path, label, source=f"{LABELS[label]} ({path.name}/)"))
    if unknown:
        hint = "map them with --label-map, e.g. --label-map real=human,fake=ai" if options.label_map is None else "add them to --label-map"
        raise SourceError(f"{root}: folder(s) {', '.join(sorted(unknown))} are not a label ({', '.join(LABELS)}); {hint}")
    if not folders:
        raise SourceError(f"{root} has no label folders; expected {'/ and '.join(LABELS)}/ (or --label-map)")
    present = {f.label for f in folders}
    if len(present) < len(LABELS):
        report.notes.append(f"only class {LABELS[present.pop()]!r} present")
    return Collection(
        name="folder",
        records=read_labelled_folders(root, folders, report, options),
        features=image_features(),
        card=CardInfo(
            pretty_name=f"{root.name}: human vs AI images",
            summary=f"Images from the folder `{root.name}`, one sub-folder per class, published with deepart-hf.",
            caveats=["Built from a local folder: check where the images come from and their licences before sharing."],
        ),
        report=report,
    )
