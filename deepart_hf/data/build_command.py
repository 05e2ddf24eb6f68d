"""What ``deepart-hf build SOURCE`` and every dataset script share: each source's typed arguments (``SOURCES``),
the build -> publish run, errors as one line."""

from __future__ import annotations

import shlex
import sys
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

from transformers import HfArgumentParser

from ..constants import DEFAULT_SEED, LABELS
from ..errors import DeepArtError
from ..files import Terminated
from .build import Build, build
from .publish import Published, check_output_folder, publish
from .sources.folder import parse_label_map


@dataclass
class OutputArguments:
    out: str = field(
        metadata={"help": "folder to write the Hub dataset repository to (must not exist unless --overwrite)"}
    )
    split_ratio: str | None = field(
        default=None,
        metadata={
            "help": "train:validation:test, e.g. 1:1:8 (the default, as in the DeepArt paper); overrides upstream splits"
        },
    )
    seed: int = field(default=DEFAULT_SEED, metadata={"help": "seed of the split (and of synthetic images)"})
    push_to_hub: str | None = field(
        default=None, metadata={"help": "also upload the folder to this Hub dataset repo (ORG/NAME)"}
    )
    private: bool = field(default=False, metadata={"help": "create the Hub repo as private"})
    overwrite: bool = field(default=False, metadata={"help": "replace --out if it exists"})
    strict: bool = field(
        default=False, metadata={"help": "fail on the first unreadable file instead of skipping and listing it"}
    )
    workers: int | None = field(
        default=None, metadata={"help": "threads that read and check images (default: cores + 2)"}
    )
    near_duplicates: bool = field(
        default=False,
        metadata={"help": "also find resized or re-encoded copies (64-bit difference hash) and keep them in one split"},
    )
    validation_share: float | None = field(
        default=None,
        metadata={
            "help": "carve this share of the source's own train split into validation (grouped, stratified), e.g. 0.1"
        },
    )


@dataclass
class SourceArguments:
    source: str = field(
        metadata={"help": "the raw collection: a folder, a .zip, or a folder holding one .zip per label"}
    )


@dataclass
class MetadataArguments:
    metadata: str | None = field(
        default=None, metadata={"help": "poem metadata, CSV or JSONL (UTF-8), keyed by PaintingID"}
    )
    metadata_columns: str | None = field(
        default=None,
        metadata={
            "help": "keep only these metadata columns, renamed: SOURCE=OURS,... e.g. PoemText=poem_text,Painting=painting_id"
        },
    )


@dataclass
class LabelMapArguments:
    label_map: str | None = field(
        default=None,
        metadata={
            "help": f"folder names to labels, e.g. real=human,fake=ai (default: folders named {'/'.join(LABELS)})"
        },
    )


@dataclass
class SyntheticArguments:
    n_per_class: int = field(default=200, metadata={"help": "images per class"})
    image_size: int = field(default=128, metadata={"help": "side of each square image in pixels"})


@dataclass
class SyntheticGeneratorArguments:
    """The synthetic source's own option; it reaches it as ``SourceOptions.extra``."""

    generators: int = field(
        default=0,
        metadata={
            "help": "N > 0: N 'generators' with gratings of period 2..N+1 and a `generator` column "
            "(real + upsampler-pK) for --task attribution; 0: one 'ai' class"
        },
    )


@dataclass
class DaniArguments:
    """Options of the D-ANI source only; they reach it as ``SourceOptions.extra``."""

    resolutions: str | None = field(
        default=None, metadata={"help": "keep only these resolution folders, e.g. 512 or 224,256,512 (default: all)"}
    )
    generators: str | None = field(
        default=None,
        metadata={
            "help": "keep only these generators, e.g. SD_XL,Dalle3 (default: all; the photographs are always read)"
        },
    )
    tasks: str | None = field(
        default=None, metadata={"help": "keep only these prompt kinds: T2I, I2I, TI2I (default: all)"}
    )
    max_per_generator: int | None = field(
        default=None,
        metadata={"help": "at most N images per generator, the same COCO images for every generator (seeded)"},
    )
    real_per_generated: float | None = field(
        default=None,
        metadata={
            "help": "keep R photographs per generated image kept (e.g. 1 for a balanced set; default: every photograph)"
        },
    )


@dataclass
class FolderColumnArguments:
    """Per-file columns of a folder source (``deepart_hf.data.file_columns``); they reach it as ``SourceOptions.extra``."""

    metadata: str | None = field(
        default=None,
        metadata={
            "help": "a CSV or JSONL table with a file_name column (the image's path inside the source) and any "
            "other columns, e.g. generator, style"
        },
    )
    name_pattern: list[str] | None = field(
        default=None,
        metadata={
            "help": "[LABEL=]REGEX searched in each image's path inside its label folder; named groups become "
            "columns, e.g. --name-pattern 'ai=(?P<generator>[^-]+)-img_'"
        },
    )


def _folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def summary(result: Build, published: Published, seconds: float) -> str:
    counts = result.label_counts()
    total = sum(sum(c.values()) for c in counts.values())
    per_split = ", ".join(f"{split} {sum(c.values())}" for split, c in counts.items())
    per_label = ", ".join(f"{name} {sum(c[name] for c in counts.values())}" for name in LABELS)
    others = [
        f"{config} ({sum(len(s) for s in ds.values())} rows)"
        for config, ds in result.configs.items()
        if config != result.default_config
    ]
    report = result.report
    text = (
        f"Built {result.name}: {total} images ({per_label}; {per_split}) in configuration {result.default_config!r}"
        + (f", plus {', '.join(others)}" if others else "")
        + f". Split: {result.split_plan.describe()}."
        + f" Skipped {len(report.skipped)} file(s)"
        + (f", {len(report.unpaired)} unpaired image(s) left out of pairs" if report.unpaired else "")
        + (f", ignored {report.hidden_count} hidden or system file(s)" if report.hidden_count else "")
        + f"; {report.duplicate_summary()} (listed in build_report.json)."
    )
    if published.path:
        text += f" Wrote {published.path} ({_folder_size(published.path) / 1e6:.1f} MB) in {seconds:.1f} s; load it with load_dataset({str(published.path)!r})."
    if published.repo_url:
        text += f" Pushed to {published.repo_url}."
    return text + skipped_listing(report)


# The console names this many skipped files; build_report.json keeps them all.
SKIPPED_SHOWN = 10


def skipped_listing(report) -> str:
    """The first skipped files with their reasons, one per line, then how many more."""
    if not report.skipped:
        return ""
    lines = [f"  {skipped.path}: {skipped.reason}" for skipped in report.skipped[:SKIPPED_SHOWN]]
    more = len(report.skipped) - SKIPPED_SHOWN
    if more > 0:
        lines.append(f"  ... and {more} more (all in build_report.json)")
    return "\nSkipped:\n" + "\n".join(lines)


# source -> (its argument dataclasses, the dataclass of options only it reads, passed as ``SourceOptions.extra``)
SOURCES: dict[str, tuple[tuple[type, ...], type | None]] = {
    "deepart": ((SourceArguments, MetadataArguments), None),
    "dani": ((SourceArguments,), DaniArguments),
    "genres": ((SourceArguments, LabelMapArguments), None),
    "dalle_paintings": ((SourceArguments,), None),
    "folder": ((SourceArguments, LabelMapArguments), FolderColumnArguments),
    "synthetic": ((SyntheticArguments,), SyntheticGeneratorArguments),
}


def dataset_script_parser(name: str) -> HfArgumentParser:
    """The command line of ``dataset_scripts/NAME.py`` (``deepart-hf build NAME``)."""
    argument_classes, source_arguments = SOURCES[name]
    return HfArgumentParser(
        (OutputArguments, *argument_classes, *([source_arguments] if source_arguments else [])),
        prog=f"deepart-hf build {name}",
    )


def run_dataset_script(name: str, argv: list[str]) -> int:
    """Parse the source's arguments, build, publish, print the summary. Returns the exit status."""
    source_arguments = SOURCES[name][1]
    parsed = dataset_script_parser(name).parse_args_into_dataclasses(args=argv)
    args = {f.name: getattr(obj, f.name) for obj in parsed for f in fields(obj)}
    extra = {f.name: args[f.name] for f in fields(source_arguments)} if source_arguments else None
    command = " ".join(["deepart-hf", "build", name, *map(shlex.quote, argv)])
    try:
        started = time.perf_counter()
        check_output_folder(args["out"], overwrite=args["overwrite"], source=args.get("source"))
        result = build(
            name,
            args.get("source"),
            split_ratio=args["split_ratio"],
            seed=args["seed"],
            metadata=args.get("metadata"),
            strict=args["strict"],
            label_map=parse_label_map(args.get("label_map")),
            workers=args["workers"],
            near_duplicates=args["near_duplicates"],
            validation_share=args["validation_share"],
            **{key: args[key] for key in ("n_per_class", "image_size", "metadata_columns") if key in args},
            extra=extra,
        )
        published = publish(
            result,
            args["out"],
            push_to_hub=args["push_to_hub"],
            private=args["private"],
            overwrite=args["overwrite"],
            build_command=command,
            workers=args["workers"],
        )
    except DeepArtError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk or a file-size limit while writing: the earlier --out is untouched
        where = f" ({exc.filename})" if exc.filename else ""
        print(
            f"error: cannot write {args['out']}: {exc.strerror or exc}{where}; {args['out']} was left as it was",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt as exc:
        print(
            f"interrupted: {args['out']} was left as it was (builds are written whole or not at all)", file=sys.stderr
        )
        return 143 if isinstance(exc, Terminated) else 130
    print(summary(result, published, time.perf_counter() - started))
    return 0
