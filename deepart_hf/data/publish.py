"""typed DatasetDict -> a complete Hub dataset repository in a folder -> (optionally) the Hub.

The folder is exactly what ``push_to_hub`` would create: Parquet shards with the image bytes embedded
(``data/<split>-*.parquet`` for the default configuration, ``<config>/<split>-*.parquet`` for others)
and a README.md whose YAML declares the configurations and features. It is written to a temporary
folder beside the target and renamed into place, so a crash never leaves half a dataset behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from datasets import ClassLabel, DatasetDict, DatasetInfo, Features, SplitDict, SplitInfo
from datasets.arrow_writer import ParquetWriter
from datasets.info import DatasetInfosDict
from datasets.table import embed_table_storage
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard, DatasetCardData
from tqdm.auto import tqdm

from ..cards import markdown_table, template_path
from ..constants import DATASET_MARKER, LABELS
from ..errors import PublishError, SourceError
from ..files import atomic_folder, check_replaceable, remove_stale_temporaries, sigterm_unwinds
from ..hub import push_folder
from .build import Build, StreamedSplits, datasets_progress_off
from .caveats import measured_caveats
from .images import default_workers
from .internals import estimated_nbytes, is_selection
from .schema import CARD_METADATA_KEY, COLUMN_DESCRIPTIONS
from .sources import BuildReport, CardInfo
from .splits import SplitPlan

MAX_SHARD_BYTES = 500 * 1024 * 1024  # datasets' own default for push_to_hub
# A streamed build reads this many images ahead of the Parquet writer: with one row group, all it holds.
READ_AHEAD = 64
# The columns of each written row a streamed build keeps, for the card's counts and the measured caveats.
SUMMARY_COLUMNS = ("label", "file_format", "width", "height", "source")
GENERIC_CARD = CardInfo(pretty_name="Human vs AI images", summary="Images labelled human-made or AI-generated.")


@dataclass
class Published:
    path: Path
    repo_url: str | None = None


@dataclass
class ConfigSummary:
    """What the card and the dataset info say of one configuration: its features, and counts per split."""

    features: Features
    rows: dict[str, int]  # split -> rows, empty splits included
    class_counts: dict[str, dict[str, Counter]]  # ClassLabel column -> split -> Counter of class ids

    @classmethod
    def of_rows(cls, features: Features, rows: dict[str, list[dict]]) -> ConfigSummary:
        columns = [name for name, feature in features.items() if isinstance(feature, ClassLabel)]
        counts = {
            c: {split: Counter(row[c] for row in split_rows) for split, split_rows in rows.items()} for c in columns
        }
        return cls(features, {split: len(split_rows) for split, split_rows in rows.items()}, counts)

    @classmethod
    def of(cls, dataset: DatasetDict) -> ConfigSummary:
        features = next(iter(dataset.values())).features
        columns = [name for name, feature in features.items() if isinstance(feature, ClassLabel)]
        return cls.of_rows(
            features,
            {
                split: ds.select_columns(columns).to_list() if columns else [{}] * len(ds)
                for split, ds in dataset.items()
            },
        )


def check_output_folder(out: str | Path, *, overwrite: bool, source: str | Path | None = None) -> Path:
    """Refuse before any work is done: an existing folder, or one that holds (or is inside) the source."""
    out = Path(out).resolve()
    remove_stale_temporaries(out)  # and puts back a previous build that a killed replacement had set aside
    if source is not None:
        src = Path(source).resolve()
        if out == src or src.is_relative_to(out) or out.is_relative_to(src):
            raise PublishError(f"output folder {out} overlaps the source folder {src}; choose another --out")
    if out.exists() and not overwrite:
        raise PublishError(f"output folder {out} already exists; pass --overwrite to replace it")
    if out.exists():
        check_replaceable(out, DATASET_MARKER, error=PublishError)
    return out


def data_dir(config: str, default_config: str) -> str:
    return "data" if config == default_config else config


def _write_shards(dataset: DatasetDict, folder: Path, directory: str) -> dict[str, list[str]]:
    written: dict[str, list[str]] = {}
    (folder / directory).mkdir(parents=True, exist_ok=True)
    for split, ds in dataset.items():
        if len(ds) == 0:
            continue  # load_dataset refuses a split with no data, so an empty split is left out
        # an indices mapping is flattened only when there is one; shards are sized as push_to_hub sizes them
        ds = ds.flatten_indices() if is_selection(ds) else ds
        num_shards = max(1, estimated_nbytes(ds) // MAX_SHARD_BYTES + 1)
        names = []
        for index in range(num_shards):
            shard = ds.shard(num_shards=num_shards, index=index, contiguous=True)
            # Images given as paths would otherwise be written as paths: embed the bytes, like push_to_hub.
            shard = shard.with_format("arrow").map(embed_table_storage, batched=True, keep_in_memory=True)
            name = f"{directory}/{split}-{index:05d}-of-{num_shards:05d}.parquet"
            shard.with_format(None).to_parquet(str(folder / name))
            names.append(name)
        written[split] = names
    return written


def _write_streamed(
    streamed: StreamedSplits, folder: Path, directory: str, report: BuildReport, workers: int | None
) -> tuple[dict[str, list[str]], ConfigSummary]:
    """Read and write a streamed build shard by shard: never more than ``READ_AHEAD`` images in memory.

    Shards are planned from the files' sizes before anything is read, so their names (``-of-N``) are known up
    front; unreadable files are left out and recorded in ``report``. Fills in ``streamed.written``."""
    (folder / directory).mkdir(parents=True, exist_ok=True)
    written: dict[str, list[dict]] = {}
    files: dict[str, list[str]] = {}
    summary_columns = [
        c for c in streamed.features if c in SUMMARY_COLUMNS or isinstance(streamed.features[c], ClassLabel)
    ]
    total = sum(len(records) for records in streamed.records.values())
    with (
        ThreadPoolExecutor(max_workers=workers or default_workers()) as pool,
        tqdm(total=total, desc="writing parquet", unit="img", leave=False) as bar,
    ):
        for split, records in streamed.records.items():
            written[split] = []
            if not records:
                continue  # as in _write_shards: load_dataset refuses a split with no data
            shards = _plan_shards(records)
            files[split] = []
            for index, shard in enumerate(shards):
                name = f"{directory}/{split}-{index:05d}-of-{len(shards):05d}.parquet"
                with ParquetWriter(features=streamed.features, path=str(folder / name)) as writer:
                    for start in range(0, len(shard), READ_AHEAD):
                        batch = shard[start : start + READ_AHEAD]
                        for record, row in zip(batch, pool.map(streamed.read_row, batch)):
                            bar.update()
                            if isinstance(row, str):
                                if streamed.strict:
                                    raise SourceError(f"--strict: cannot use {record['image_id']}: {row}")
                                report.skip(record["image_id"], row)
                                continue
                            writer.write(streamed.features.encode_example(row))
                            written[split].append({c: row[c] for c in summary_columns})
                    writer.finalize()
                files[split].append(name)
    streamed.written = written
    return files, ConfigSummary.of_rows(streamed.features, written)


def _plan_shards(records: list[dict]) -> list[list[dict]]:
    """Contiguous runs of records of about equal bytes (the files' sizes), as many as ``_write_shards`` would make."""
    sizes = [record["nbytes"] for record in records]
    count = max(1, sum(sizes) // MAX_SHARD_BYTES + 1)
    target = sum(sizes) / count
    shards: list[list[dict]] = [[] for _ in range(count)]
    before = 0
    for record, size in zip(records, sizes):
        shards[min(count - 1, int(before // target) if target else 0)].append(record)
        before += size
    return [shard for shard in shards if shard] or [records]


def _dataset_info(summary: ConfigSummary, folder: Path, files: dict[str, list[str]]) -> DatasetInfo:
    splits = SplitDict()
    for split, rows in summary.rows.items():
        if split not in files:
            continue
        splits.add(
            SplitInfo(name=split, num_bytes=sum((folder / f).stat().st_size for f in files[split]), num_examples=rows)
        )
    size = sum(s.num_bytes for s in splits.values())
    return DatasetInfo(features=summary.features, splits=splits, download_size=size, dataset_size=size)


def _count_table(summary: ConfigSummary) -> str:
    """The label counts per split, then one table for each other ClassLabel column (a generator)."""
    splits = list(summary.rows)
    totals = ["**total**", *(summary.rows[s] for s in splits)]
    if "label" not in summary.class_counts:
        return markdown_table(["rows", *splits], [["rows", *totals[1:]]])
    tables = []
    for column in ["label", *(c for c in summary.class_counts if c != "label")]:
        counts = summary.class_counts[column]
        rows = [
            [name, *(counts[s][index] for s in splits)] for index, name in enumerate(summary.features[column].names)
        ]
        if column != "label":
            rows = [row for row in rows if any(row[1:])]  # a class with no rows here says nothing
        tables.append(markdown_table([column, *splits], [*rows, totals]))
    return "\n\n".join(tables)


def _column_rows(configs: dict[str, ConfigSummary]) -> list[dict]:
    seen: dict[str, dict] = {}
    for summary in configs.values():
        for name, feature in summary.features.items():
            kind = type(feature).__name__
            if kind == "Value":
                kind = feature.dtype
            elif kind == "ClassLabel":
                kind = f"ClassLabel({', '.join(feature.names)})"
            seen.setdefault(name, {"name": name, "type": kind, "meaning": COLUMN_DESCRIPTIONS.get(name, "")})
    return list(seen.values())


def _report_summary(report: BuildReport) -> str:
    parts = [f"{len(report.skipped)} file(s) skipped"]
    if report.skipped:
        reasons = sorted({s.reason for s in report.skipped})
        parts[0] += f" ({'; '.join(reasons[:3])}{'; ...' if len(reasons) > 3 else ''})"
    parts.append(f"{len(report.unpaired)} unpaired image(s) kept in the image view but not paired")
    if report.hidden_count:
        parts.append(
            f"{report.hidden_count} hidden or system file(s) (.DS_Store, Thumbs.db, dotfiles, __MACOSX/) ignored"
        )
    parts.append(report.duplicate_summary())
    return ", ".join(parts) + "." + "".join(f" {note[0].upper()}{note[1:]}." for note in report.notes)


def render_card(
    configs: dict[str, ConfigSummary],
    default_config: str,
    files: dict[str, dict[str, list[str]]],
    infos: dict[str, DatasetInfo],
    card: CardInfo,
    report: BuildReport,
    plan: SplitPlan | None,
    repo_id: str,
    build_command: str,
    caveats: list[str],
) -> DatasetCard:
    card_data = DatasetCardData(
        pretty_name=card.pretty_name,
        license=card.license,
        task_categories=["image-classification"],
        tags=["deepart-hf", *card.tags],
        size_categories=[_size_category(sum(configs[default_config].rows.values()))],
        # Read back by every model card trained on this dataset, whatever its folder or repo is called.
        **{CARD_METADATA_KEY: {"caveats": list(caveats)}},
    )
    metadata_configs = MetadataConfigs(
        {
            config: {
                "data_files": [
                    {"split": split, "path": f"{data_dir(config, default_config)}/{split}-*"} for split in files[config]
                ],
                **({"default": True} if config == default_config and config != "default" else {}),
            }
            for config in configs
        }
    )
    metadata_configs.to_dataset_card_data(card_data)
    DatasetInfosDict(infos).to_dataset_card_data(card_data)
    return DatasetCard.from_template(
        card_data,
        template_path=str(template_path("dataset.md")),
        pretty_name=card.pretty_name,
        summary=card.summary,
        repo_id=repo_id,
        default_config=default_config,
        configs=list(configs),
        labels=LABELS,
        count_tables={config: _count_table(summary) for config, summary in configs.items()},
        split_description=plan.describe() if plan else "as given to `publish`",
        split_note=_split_note(plan),
        columns=_column_rows(configs),
        caveats=caveats or ["none recorded"],
        report_summary=_report_summary(report),
        homepage=card.homepage,
        citation=card.citation,
        build_command=build_command,
    )


def _measured_caveats(dataset: DatasetDict) -> list[str]:
    columns = [
        c
        for c in ("label", "file_format", "width", "height", "source")
        if c in next(iter(dataset.values())).column_names
    ]
    if "label" not in columns:
        return []
    return measured_caveats([row for split in dataset.values() for row in split.select_columns(columns).to_list()])


def _split_note(plan: SplitPlan | None) -> str:
    if not plan or plan.method != "ratio":
        return ""
    groups = ", ".join(f"{split} {plan.group_counts.get(split, 0)}" for split in plan.indices)
    return f"Groups per split: {groups}. The same ratio and seed give the same split."


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "n>1M"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish(
    dataset: Build | DatasetDict,
    out: str | Path | None = None,
    *,
    push_to_hub: str | None = None,
    private: bool = False,
    overwrite: bool = False,
    card: CardInfo | None = None,
    build_command: str = "deepart_hf.publish(...)",
    token: str | None = None,
    workers: int | None = None,
) -> Published:
    """Write ``dataset`` (a ``Build`` or a plain DatasetDict) as a Hub dataset repository.

    With ``out=None`` it goes to a temporary folder that is pushed and then removed. The folder is
    complete before any push starts, so an offline push loses nothing.
    """
    streamed = None
    if isinstance(dataset, Build):
        configs, default_config, streamed = dataset.configs, dataset.default_config, dataset.streamed
        card, report, plan, source = card or dataset.card, dataset.report, dataset.split_plan, dataset.source_path
        caveats = dataset.caveats if card is dataset.card else card.caveats
    else:
        configs, default_config = {"default": dataset}, "default"
        card, report, plan, source = card or GENERIC_CARD, BuildReport(source="python"), None, None
        caveats = [*card.caveats, *_measured_caveats(dataset)]
    if out is None and push_to_hub is None:
        raise PublishError("nothing to do: give an output folder, a Hub repo id, or both")

    keep_local = out is not None
    out = check_output_folder(out, overwrite=overwrite, source=source) if keep_local else None

    def write(tmp: Path) -> None:
        files, infos, summaries, all_caveats = {}, {}, {}, caveats
        if streamed is not None:
            files[default_config], summaries[default_config] = _write_streamed(
                streamed, tmp, data_dir(default_config, default_config), report, workers
            )
            all_caveats = [*caveats, *measured_caveats([row for rows in streamed.written.values() for row in rows])]
        with datasets_progress_off():
            for config, ds in tqdm(configs.items(), desc="writing parquet", unit="config", leave=False):
                files[config] = _write_shards(ds, tmp, data_dir(config, default_config))
                summaries[config] = ConfigSummary.of(ds)
        for config in summaries:
            if not files[config]:
                raise PublishError(f"configuration {config!r} has no rows in any split: nothing to publish")
            infos[config] = _dataset_info(summaries[config], tmp, files[config])
        repo_id = push_to_hub or (out.name if out else "dataset")
        render_card(
            summaries, default_config, files, infos, card, report, plan, repo_id, build_command, all_caveats
        ).save(tmp / "README.md")
        (tmp / "build_report.json").write_text(
            json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )

    if keep_local:
        record = {"written_by": "deepart-hf", "kind": "dataset", "build_command": build_command}
        with atomic_folder(out, DATASET_MARKER, record, overwrite=overwrite, error=PublishError) as tmp:
            write(tmp)
        folder = out
    else:
        with sigterm_unwinds():
            folder = Path(tempfile.mkdtemp(prefix="deepart-hf-dataset-"))
            try:
                folder.chmod(0o777 & ~_umask())  # mkdtemp makes it private; the dataset folder should not be
                write(folder)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise

    try:
        url = (
            push_folder(
                folder,
                push_to_hub,
                repo_type="dataset",
                private=private,
                token=token,
                commit_message="Upload dataset written by deepart-hf",
                # Stale shards of an earlier push would match the data_files globs: replace all Parquet files.
                delete_patterns=["*.parquet"],
            )
            if push_to_hub
            else None
        )
    except PublishError as exc:
        if keep_local:
            raise PublishError(f"{exc}; the local copy is complete: {folder}") from None
        raise
    finally:
        if not keep_local:
            shutil.rmtree(folder, ignore_errors=True)
    return Published(path=folder if keep_local else None, repo_url=url)
