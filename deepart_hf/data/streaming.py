"""Hub dataset or folder -> streamed splits a detector trains on without downloading or rebuilding anything.

Decisions:

* ``load_dataset(..., streaming=True)`` (through ``loading.load_splits``): rows are read as they are used, so a
  445k-image Hub dataset trains without a full download. A stream has no length, so ``--max_steps`` is required.
* A foreign dataset keeps its own columns: ``--image_column`` and ``--label_column`` name them and ``--label_map``
  maps their values (``real=human,fake=ai``; ``*=ai`` for every other value, e.g. the names of generators) to
  human/ai. The first rows are read up front and checked, so a wrong column or an unmapped value is one line
  naming the column and the values seen, not an error deep inside training.
* Under DDP the training stream is split with ``split_dataset_by_node``: with a shard count divisible by the
  world size, each process reads its own whole shards. Otherwise the Parquet shards are split per row group
  (``IterableDataset.reshard``); if that still does not divide, every process reads every shard and keeps one
  row in ``world_size`` (correct, slower), and the log says so.
* Evaluation streams too, but is not split by node: the Trainer's accelerate dispatcher reads it on the main
  process and hands each process its slice, which keeps predictions in the stream's order for the report.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from datasets import ClassLabel, IterableDataset, IterableDatasetDict
from datasets import Image as ImageFeature
from datasets.distributed import split_dataset_by_node

from ..constants import LABELS
from ..errors import DeepArtError
from .sources.folder import parse_label_map

logger = logging.getLogger(__name__)

CHECK_ROWS = 64  # rows read before training to check the columns and their values
OTHER_VALUES = "*"  # --label_map key for every value not named


@dataclass
class StreamColumns:
    """Which columns hold the image and the target, and how target values become class ids."""

    image_column: str = "image"
    label_column: str = "label"
    label_map: dict[str, str] | None = None  # value -> a name of ``classes``
    classes: tuple[str, ...] = tuple(LABELS)  # what the model predicts, in id order

    @classmethod
    def parse(cls, image_column: str, label_column: str, label_map: str | None, classes=tuple(LABELS)) -> StreamColumns:
        return cls(image_column, label_column, parse_label_map(label_map), tuple(classes))

    @property
    def is_identity(self) -> bool:
        return self.image_column == "image" and self.label_column == "label" and self.label_map is None


def value_name(value, feature) -> str:
    """A label value as the name a ``--label_map`` uses: a ClassLabel id by its name, anything else as text."""
    if isinstance(feature, ClassLabel) and isinstance(value, int) and 0 <= value < feature.num_classes:
        return feature.int2str(value)
    return str(value)


class ToClassIds:
    """The ``IterableDataset.map`` callable: the image column as ``image``, the target as ``label`` (a class id)."""

    def __init__(self, columns: StreamColumns, feature, where: str):
        self.columns, self.feature, self.where = columns, feature, where
        self.ids = {name: index for index, name in enumerate(columns.classes)}

    def class_id(self, value) -> int | None:
        name = value_name(value, self.feature)
        if self.columns.label_map is not None:
            name = self.columns.label_map.get(name, self.columns.label_map.get(OTHER_VALUES))
        return self.ids.get(name)

    def __call__(self, row: dict) -> dict:
        label = self.class_id(row[self.columns.label_column])
        if label is None:
            raise DeepArtError(
                f"{self.where}: column {self.columns.label_column!r} has value {row[self.columns.label_column]!r}, "
                f"which is not a class ({', '.join(self.columns.classes)}) and not in --label_map"
            )
        out = {"image": row[self.columns.image_column], "label": label}
        if "image_id" in row:
            out["image_id"] = row["image_id"]
        return out


def check_stream(split: IterableDataset, columns: StreamColumns, where: str) -> IterableDataset:
    """The split with undecoded images and ``label`` as class ids, after checking its first rows."""
    features = split.features
    names = list(features) if features is not None else None
    for role, column in (("image", columns.image_column), ("label", columns.label_column)):
        if names is not None and column not in names:
            raise DeepArtError(
                f"{where} has no {role} column {column!r} (columns: {', '.join(names)}); name it with --{role}_column"
            )
    if features is not None and isinstance(features.get(columns.image_column), ImageFeature):
        split = split.cast_column(columns.image_column, ImageFeature(decode=False))
    label_feature = features.get(columns.label_column) if features is not None else None
    convert = ToClassIds(columns, label_feature, where)
    first = list(split.take(CHECK_ROWS))
    if not first:
        raise DeepArtError(f"{where} is empty")
    missing = [c for c in (columns.image_column, columns.label_column) if c not in first[0]]
    if missing:
        raise DeepArtError(f"{where} has no column {missing[0]!r} (columns: {', '.join(first[0])})")
    image = first[0][columns.image_column]
    if not (isinstance(image, dict) and (image.get("bytes") or image.get("path"))):
        raise DeepArtError(
            f"{where}: column {columns.image_column!r} does not hold images (found {type(image).__name__}); "
            "name the image column with --image_column"
        )
    values = [row[columns.label_column] for row in first]
    seen = sorted({value_name(value, label_feature) for value in values})
    unmapped = sorted({value_name(value, label_feature) for value in values if convert.class_id(value) is None})
    if unmapped:
        hint = (
            f"e.g. --label_map {unmapped[0]}={columns.classes[0]},{OTHER_VALUES}={columns.classes[-1]}"
            if columns.classes == tuple(LABELS)
            else ""
        )
        raise DeepArtError(
            f"{where}: column {columns.label_column!r} has values {', '.join(seen)} in its first {len(first)} rows; "
            f"{', '.join(unmapped)} map to no class ({', '.join(columns.classes)}). {hint}".rstrip()
        )
    if columns.is_identity and isinstance(label_feature, ClassLabel) and tuple(label_feature.names) == columns.classes:
        return split
    return split.map(convert, remove_columns=[c for c in (names or list(first[0])) if c != "image_id"])


def node_split(split: IterableDataset, rank: int, world_size: int, where: str) -> IterableDataset:
    """This process's part of a training stream (see the module docstring for shards and world sizes)."""
    if world_size <= 1:
        return split
    if split.n_shards % world_size:
        resharded = split.reshard()
        logger.info(
            "%s: %d shard(s) for %d processes; split per Parquet row group into %d",
            where,
            split.n_shards,
            world_size,
            resharded.n_shards,
        )
        split = resharded
    if split.n_shards % world_size:
        logger.warning(
            "%s: %d shard(s) is not a multiple of %d processes: every process reads every shard and keeps 1 row in %d "
            "(correct but slower); publish the data in a multiple of %d shards to read each once", where, split.n_shards,
            world_size, world_size, world_size,
        )  # fmt: skip
    return split_dataset_by_node(split, rank=rank, world_size=world_size)


def stream_split(splits: IterableDatasetDict, name: str, where: str) -> IterableDataset:
    if name not in splits:
        raise DeepArtError(f"{where} has no {name!r} split (it has {', '.join(splits) or 'none'})")
    return splits[name]
