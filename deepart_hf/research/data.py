"""A dataset as the research tools read it: every image once, with its label, id, group and split, read lazily.

Images stay in the memory-mapped Arrow table until a tool asks for one, so the full DeepArt set (441 MB of
image bytes) never sits in memory at once. A ``pairs`` configuration (``human_image`` and ``ai_image`` columns)
becomes two images per row sharing the row's ``painting_id``.
"""

from __future__ import annotations

from dataclasses import dataclass

from datasets import Dataset, DatasetDict, Image

from ..constants import AI, HUMAN, ID2LABEL
from ..data.loading import load_splits
from ..data.schema import check_classification_features
from ..errors import DeepArtError

PAIR_COLUMNS = {HUMAN: "human_image", AI: "ai_image"}
GROUP_COLUMN = "painting_id"


@dataclass(frozen=True)
class ImageRef:
    """One image of a dataset: where to read it, and what is known about it."""

    table: Dataset
    row: int
    column: str
    label: int
    image_id: str
    split: str
    group: str | None = None
    file_format: str | None = None

    @property
    def value(self) -> dict:
        """The undecoded ``{"bytes", "path"}`` value."""
        return self.table[self.column][self.row]  # one cell: a pairs row holds two images

    @property
    def label_name(self) -> str:
        return ID2LABEL[self.label]


@dataclass
class ImageCollection:
    images: list[ImageRef]
    paired: bool
    where: str

    def split(self, name: str) -> list[ImageRef]:
        return [image for image in self.images if image.split == name]

    def pairs(self) -> list[tuple[ImageRef, ImageRef]]:
        """(human, ai) for every group that has exactly one image of each class, sorted by group."""
        by_group: dict[str, dict[int, list[ImageRef]]] = {}
        for image in self.images:
            if image.group is not None:
                by_group.setdefault(image.group, {}).setdefault(image.label, []).append(image)
        return [
            (members[HUMAN][0], members[AI][0])
            for group, members in sorted(by_group.items())
            if len(members.get(HUMAN, [])) == 1 and len(members.get(AI, [])) == 1
        ]


def _pair_images(name: str, split: Dataset) -> list[ImageRef]:
    split = split.cast_column("human_image", Image(decode=False)).cast_column("ai_image", Image(decode=False))
    meta = split.select_columns(
        [c for c in (GROUP_COLUMN, "human_file_format", "ai_file_format") if c in split.column_names]
    )
    images = []
    for row, record in enumerate(meta):
        group = record.get(GROUP_COLUMN, str(row))
        for label, column in PAIR_COLUMNS.items():
            images.append(
                ImageRef(
                    split,
                    row,
                    column,
                    label,
                    f"{group}/{ID2LABEL[label]}",
                    name,
                    group,
                    record.get(f"{ID2LABEL[label]}_file_format"),
                )
            )
    return images


def classification_images(name: str, split: Dataset, where: str) -> list[ImageRef]:
    """Every image of an image-classification split, in row order."""
    check_classification_features(split.features, f"{where}, split {name!r}")
    split = split.cast_column("image", Image(decode=False))
    wanted = [c for c in ("label", "image_id", GROUP_COLUMN, "file_format") if c in split.column_names]
    return [
        ImageRef(
            split,
            row,
            "image",
            int(record["label"]),
            record.get("image_id") or f"{name}/{row}",
            name,
            record.get(GROUP_COLUMN),
            record.get("file_format"),
        )
        for row, record in enumerate(split.select_columns(wanted))
    ]


def read_collection(dataset: str, config: str | None = None, splits: list[str] | None = None) -> ImageCollection:
    """Every image of ``splits`` (default: all) of a dataset folder or Hub id; one-line errors for bad input."""
    where = f"dataset {dataset!r}" + (f" (configuration {config!r})" if config else "")
    loaded: DatasetDict = load_splits(dataset, config)
    names = splits or list(loaded)
    missing = [name for name in names if name not in loaded]
    if missing:
        raise DeepArtError(f"{where} has no split {', '.join(map(repr, missing))} (it has {', '.join(loaded)})")
    paired = all(column in loaded[names[0]].column_names for column in PAIR_COLUMNS.values())
    images = []
    for name in names:
        images += _pair_images(name, loaded[name]) if paired else classification_images(name, loaded[name], where)
    labels = {image.label for image in images}
    if labels != {HUMAN, AI}:
        present = ", ".join(ID2LABEL[label] for label in sorted(labels)) or "no"
        raise DeepArtError(f"{where} has {present} images only; comparing needs both human and ai images")
    return ImageCollection(images, paired, where)
