"""raw source -> records -> typed DatasetDict: the same path for every source.

A source (``deepart_hf.sources``) reads its layout into a ``Collection``; this module splits it and
types it. ``publish`` then writes the result as a Hub repository.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from datasets import Dataset, DatasetDict, Features
from datasets.utils.logging import disable_progress_bar, enable_progress_bar, is_progress_bar_enabled

from ..constants import DEFAULT_SEED, DEFAULT_SPLIT_RATIO, LABELS, SPLITS
from ..errors import DeepArtError, LayoutError
from .caveats import measured_caveats
from .duplicates import find_duplicates, resolve_leaks
from .sources import SOURCES, BuildReport, CardInfo, Collection, SourceOptions
from .splits import SplitPlan, SplitRatio, carve_validation, split_by_ratio, split_upstream
from .tree import SourceTree, is_image_name

# How far below --source the builder looks for the layout when it is not at the top.
LAYOUT_SEARCH_DEPTH = 2


@dataclass
class StreamedSplits:
    """A build whose images are read only when written (``Collection.read_row``): rows of metadata per split.

    ``publish`` writes them shard by shard and fills in ``written`` (the rows that were readable), so memory
    holds one batch of images whatever the size of the dataset."""

    features: Features
    records: dict[str, list[dict]]
    read_row: Callable[[dict], dict | str]
    strict: bool = False
    written: dict[str, list[dict]] | None = None  # per split, the small columns of every written row


@dataclass
class Build:
    """Everything one build produced: every configuration, and what the card needs to say about it."""

    name: str
    configs: dict[str, DatasetDict]  # the default configuration first
    default_config: str
    card: CardInfo
    report: BuildReport
    split_plan: SplitPlan
    source_path: Path | None = None
    caveats: list[str] = field(default_factory=list)  # the source's known caveats and those measured on its data
    streamed: StreamedSplits | None = None  # set instead of ``configs`` for a source read while it is written

    @property
    def dataset(self) -> DatasetDict:
        if self.streamed is not None:
            raise DeepArtError(f"dataset {self.name!r} is read while it is written: publish it, then load the folder")
        return self.configs[self.default_config]

    def label_counts(self, config: str | None = None) -> dict[str, dict[str, int]]:
        """{split: {label name: count}} of an image-classification configuration (of a streamed build: the
        rows written, once published, else the rows planned)."""
        if self.streamed is not None:
            rows = self.streamed.written or self.streamed.records
            return {
                split: {name: sum(r["label"] == i for r in split_rows) for i, name in enumerate(LABELS)}
                for split, split_rows in rows.items()
            }
        dataset = self.configs[config or self.default_config]
        return {
            split: {name: labels.count(index) for index, name in enumerate(LABELS)}
            for split, labels in ((split, dataset[split]["label"]) for split in dataset)
        }


@contextmanager
def datasets_progress_off():
    """datasets' per-batch bars for in-memory steps only add noise under the project's own bars."""
    was_enabled = is_progress_bar_enabled()
    disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            enable_progress_bar()


def _to_dataset(rows: list[dict], features: Features) -> Dataset:
    with datasets_progress_off():
        return Dataset.from_dict({name: [row[name] for row in rows] for name in features}, features=features)


def _plan(
    collection: Collection, split_ratio: str | None, seed: int, linked: list[list[int]], validation_share: float | None
) -> SplitPlan:
    grouping = {"seed": seed, "group_by": collection.group_by, "stratify_by": collection.stratify_by, "linked": linked}
    if collection.upstream_split_key and split_ratio is None:
        plan = split_upstream(collection.records, collection.upstream_split_key)
        return carve_validation(plan, collection.records, validation_share, **grouping) if validation_share else plan
    if validation_share:
        raise DeepArtError(
            "--validation_share carves validation out of a source's own train split; this build splits by ratio (use --split_ratio)"
        )
    ratio = SplitRatio.parse(split_ratio or collection.default_split_ratio or DEFAULT_SPLIT_RATIO)
    return split_by_ratio(collection.records, ratio, **grouping)


def account_for_files(tree: SourceTree, report: BuildReport) -> None:
    """List every file the source did not read, so none is dropped silently; hidden files are only counted."""
    report.hidden_count = len(tree.hidden)
    report.notes.extend(tree.notes)
    if tree.followed_links:
        shown = ", ".join(tree.followed_links[:5]) + (
            f" and {len(tree.followed_links) - 5} more" if len(tree.followed_links) > 5 else ""
        )
        report.notes.append(
            f"followed {len(tree.followed_links)} link(s) to files or folders outside the source: {shown}"
        )
    for rel, reason in tree.skipped:
        report.skip(rel, reason)
    for rel in tree.unclaimed():
        reason = (
            "image outside the label folders: not published"
            if is_image_name(rel)
            else "not part of the layout: not read"
        )
        report.skip(rel, reason)


def _collect(spec, source: Path | None, options: SourceOptions) -> Collection:
    """Run the source; if its layout is not at ``source``, name the folder below that has it."""
    try:
        return spec.collect(source, options)
    except LayoutError as exc:
        found = _find_layout(spec, source) if spec.matches else []
        if not found:
            raise
        raise LayoutError(f"{exc}; did you mean --source {' or --source '.join(map(str, found))}?") from None


def _find_layout(spec, source: Path) -> list[Path]:
    if not source.is_dir():
        return []
    tree = SourceTree.open(source, "source")
    try:
        level, found = [""], []
        for _ in range(LAYOUT_SEARCH_DEPTH):
            level = [f"{folder}/{name}" if folder else name for folder in level for name in tree.subfolders(folder)]
            found = [source / folder for folder in level if (source / folder).is_dir() and spec.matches(tree, folder)]
            if found:
                return found
        return []
    finally:
        tree.close()


def build(
    name: str,
    source: str | Path | None = None,
    *,
    split_ratio: str | None = None,
    seed: int = DEFAULT_SEED,
    metadata: str | Path | None = None,
    strict: bool = False,
    label_map: dict[str, str] | None = None,
    n_per_class: int = SourceOptions.n_per_class,
    image_size: int = SourceOptions.image_size,
    workers: int | None = None,
    near_duplicates: bool = False,
    validation_share: float | None = None,
    metadata_columns: str | None = None,
    extra: dict | None = None,
) -> Build:
    """Read source ``name`` from ``source`` and return all its configurations, split and typed.

    ``split_ratio`` (``"train:validation:test"``) overrides upstream splits and the source's default;
    ``validation_share`` carves a validation split out of a source's own train split. Identical images
    (and near ones with ``near_duplicates``) are listed and kept in one split (``deepart_hf.data.duplicates``).
    """
    if name not in SOURCES:
        raise DeepArtError(f"unknown dataset {name!r}; known: {', '.join(sorted(SOURCES))}")
    spec = SOURCES[name]
    if spec.needs_source and source is None:
        raise DeepArtError(f"dataset {name!r} needs a source folder (--source DIR)")
    options = SourceOptions(
        metadata=Path(metadata) if metadata else None,
        strict=strict,
        label_map=label_map,
        n_per_class=n_per_class,
        image_size=image_size,
        seed=seed,
        workers=workers,
        near_duplicates=near_duplicates,
        metadata_columns=metadata_columns,
        extra=dict(extra or {}),
    )
    collection = _collect(spec, Path(source) if source is not None else None, options)
    if collection.tree is not None:
        account_for_files(collection.tree, collection.report)
        collection.tree.close()
    linked = find_duplicates(collection.records, collection.report, near=near_duplicates, strict=strict)
    plan = _plan(collection, split_ratio, seed, linked, validation_share)
    plan = resolve_leaks(plan, collection.records, collection.group_by, linked, collection.report, strict=strict)
    split_records = {split: [collection.records[i] for i in plan.indices[split]] for split in SPLITS}
    if collection.read_row is not None:
        return Build(
            name=name,
            configs={},
            default_config=collection.default_config,
            card=collection.card,
            report=collection.report,
            split_plan=plan,
            source_path=Path(source) if source is not None else None,
            caveats=list(collection.card.caveats),  # those measured on the data are added as it is written
            streamed=StreamedSplits(collection.features, split_records, collection.read_row, strict=strict),
        )
    configs = {
        collection.default_config: DatasetDict(
            {split: _to_dataset(rows, collection.features) for split, rows in split_records.items()}
        )
    }
    if collection.derive_configs:
        for config, (features, rows_by_split) in collection.derive_configs(split_records, collection.report).items():
            configs[config] = DatasetDict({split: _to_dataset(rows, features) for split, rows in rows_by_split.items()})
    return Build(
        name=name,
        configs=configs,
        default_config=collection.default_config,
        card=collection.card,
        report=collection.report,
        split_plan=plan,
        source_path=Path(source) if source is not None else None,
        caveats=[*collection.card.caveats, *measured_caveats(collection.records)],
    )


def build_dataset(name: str, source: str | Path | None = None, *, config: str | None = None, **options) -> DatasetDict:
    """Build one configuration of a dataset in memory, e.g. ``build_dataset("deepart", source="DeepArt")``."""
    result = build(name, source, **options)
    if result.streamed is not None:
        return result.dataset  # says why a streamed build has no in-memory dataset
    config = config or result.default_config
    if config not in result.configs:
        raise DeepArtError(f"dataset {name!r} has no configuration {config!r}; it has {', '.join(result.configs)}")
    return result.configs[config]
