"""What a source hands to the builder: typed records, how to split them, and what its card says.

A source turns one raw layout into a ``Collection``; it never splits or writes anything. The builder
(``deepart_hf.data.build``) does the rest the same way for every source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from datasets import Features

from ..build_report import BuildReport
from ..tree import SourceTree


@dataclass
class CardInfo:
    """The source-specific words of a dataset card; the numbers are filled in by the builder."""

    pretty_name: str
    summary: str  # markdown: what the images are and where they come from
    license: str = "other"
    citation: str | None = None
    homepage: str | None = None
    caveats: list[str] = field(default_factory=list)  # known shortcuts and limits, shown in the card
    tags: list[str] = field(default_factory=list)


@dataclass
class Collection:
    """All images of one source, as rows of ``features``, before splitting."""

    name: str
    records: list[dict]
    features: Features
    card: CardInfo
    report: BuildReport
    # Rows sharing this column's value land in the same split (a painting and its re-creation).
    group_by: str = "image_id"
    # Splits keep the proportions of these columns.
    stratify_by: tuple[str, ...] = ("label",)
    # When the source already has splits, each record carries them under this key.
    upstream_split_key: str | None = None
    default_config: str = "default"
    # A source that reproduces no paper may prefer another train:validation:test ratio.
    default_split_ratio: str | None = None
    # Extra views computed from the split records: {"pairs": (features, {split: rows})}, one per genre.
    derive_configs: (
        Callable[[dict[str, list[dict]], BuildReport], dict[str, tuple[Features, dict[str, list[dict]]]]] | None
    ) = None
    # The files the source was read from: the builder lists what the source did not read, then closes it.
    tree: SourceTree | None = None
    # A source too large for memory: its records hold metadata only (with the file's size under ``nbytes``, to
    # plan shards), and this reads one record's image into a full row, or says why it cannot (``str``), when the
    # builder writes that row. Then no more than one batch of images is ever held (``data.publish``).
    read_row: Callable[[dict], dict | str] | None = None


@dataclass
class SourceOptions:
    """Options a dataset script passes through to its source; each source reads what it needs."""

    metadata: Path | None = None
    strict: bool = False
    label_map: dict[str, str] | None = None  # folder name -> "human" | "ai"
    n_per_class: int = 200
    image_size: int = 128
    seed: int = 42
    workers: int | None = None
    near_duplicates: bool = False  # also fingerprint images for near copies (difference hash)
    metadata_columns: str | None = None  # "Source=ours,..." selection and renaming of --metadata columns
    extra: dict = field(default_factory=dict)  # options only one source knows (dani: resolutions, generators, ...)


class CollectFn(Protocol):
    def __call__(self, source: Path | None, options: SourceOptions) -> Collection: ...


@dataclass(frozen=True)
class SourceSpec:
    name: str
    collect: CollectFn
    needs_source: bool = True
    description: str = ""
    # Does this folder of a tree have the source's layout? Used to name the right --source when a script
    # is pointed one or two levels too high.
    matches: Callable[[SourceTree, str], bool] | None = None


SOURCES: dict[str, SourceSpec] = {}


def register_source(name: str, *, needs_source: bool = True, description: str = "", matches=None):
    """Decorator: make ``collect`` buildable as ``build_dataset(name, ...)``."""

    def wrap(collect: CollectFn) -> CollectFn:
        SOURCES[name] = SourceSpec(name, collect, needs_source, description, matches)
        return collect

    return wrap
