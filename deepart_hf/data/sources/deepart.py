"""DeepArt: Feng Zikai's paintings beside their GPT-4 / DALL·E 3 re-creations.

Upstream layout (https://github.com/rickwang28574/DeepArt): ``Human/<PaintingID>.<ext>`` and
``Aigc/<PaintingID>.jpg``. Extensions differ in case and format (the human images are mostly PNG,
every AI image is a JPEG), so each image keeps its original bytes and records its format: a detector
that only learned "PNG vs JPEG" must stay detectable.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from datasets import Features

from ...constants import AI, HUMAN
from ...errors import LayoutError, SourceError
from ..images import read_images
from ..metadata import check_known_paintings, load_poem_metadata, metadata_extra_columns, parse_metadata_columns
from ..schema import DEEPART_COLUMNS, POEM_COLUMNS, deepart_pairs_features, image_features, string_columns
from ..tree import SourceTree
from .base import BuildReport, CardInfo, Collection, SourceOptions, register_source

# Upstream folder -> label; matched case-insensitively because clones on other systems differ.
FOLDER_LABELS = {"human": HUMAN, "aigc": AI}
SOURCE_BY_LABEL = {HUMAN: "Feng Zikai", AI: "GPT-4 (DALL·E 3)"}

CARD = CardInfo(
    pretty_name="DeepArt: Feng Zikai paintings and their GPT-4 re-creations",
    summary=(
        "DeepArt pairs 301 paintings by Feng Zikai (151 from the *Gushici* book, 150 from *Gushiwen*) "
        'with re-creations made by GPT-4 (DALL·E 3) through the paper\'s "encoding-decoding" mapping: GPT-4 '
        "describes each painting, then draws from its description. Every image is 1024×1024 RGB. The human "
        "paintings come from an open-access programme and are used for research, as the paper states.\n\n"
        "Each image keeps its original file bytes. The `pairs` configuration puts a painting and its "
        "re-creation side by side, with the poem the painting illustrates."
    ),
    license="other",
    homepage="https://github.com/rickwang28574/DeepArt",
    citation=(
        "@article{wang2023deepart,\n"
        "  title   = {DeepArt: A Benchmark to Advance Fidelity Research in AI-Generated Content},\n"
        "  author  = {Wang, Wentao and Huang, Xuanyao and Wang, Tianyang and Roy, Swalpa Kumar},\n"
        "  journal = {arXiv preprint arXiv:2312.10407},\n"
        "  year    = {2023},\n"
        "  note    = {Dataset: https://github.com/rickwang28574/DeepArt}\n"
        "}"
    ),
    caveats=[
        "Each AI image re-creates a specific human painting, so the split is grouped by `painting_id`: "
        "a painting and its re-creation are always in the same split.",
        "The poem metadata (PoemID, text, title, dynasty, author, explanation, commentary) is described in "
        "the paper but not published in DeepArt's repository; its columns are null unless the build was given `--metadata`.",
        "The default 1:1:8 split follows the paper: training sets are small (about 60 images on the full set).",
    ],
    tags=["ai-generated-image-detection", "art", "gpt-4", "dall-e-3", "paired"],
)


def _book(painting_id: str) -> str | None:
    prefix, sep, _ = painting_id.partition("-")
    return prefix if sep else None


def _find_folders(tree: SourceTree, folder: str = "") -> dict[int, str]:
    folders: dict[int, str] = {}
    for name in tree.subfolders(folder):
        label = FOLDER_LABELS.get(name.lower())
        if label is None:
            continue
        if label in folders:
            raise SourceError(
                f"{tree.describe(folder)} has two folders for the same class: {folders[label]}/ and {name}/"
            )
        folders[label] = f"{folder}/{name}" if folder else name
    return folders


def matches(tree: SourceTree, folder: str) -> bool:
    return len(_find_folders(tree, folder)) == len(FOLDER_LABELS)


@register_source("deepart", description="DeepArt (Human/ and Aigc/ folders, paired by PaintingID)", matches=matches)
def collect(source: Path | None, options: SourceOptions) -> Collection:
    tree = SourceTree.open(source, "DeepArt source folder")
    report = BuildReport(source="deepart")
    folders = _find_folders(tree)
    missing = [name for name, label in (("Human", HUMAN), ("Aigc", AI)) if label not in folders]
    if missing:
        raise LayoutError(
            f"{tree.describe()} is not a DeepArt folder: no {' or '.join(m + '/' for m in missing)} inside"
        )
    for name in sorted(set(tree.subfolders()) - set(folders.values())):
        report.notes.append(
            f"ignored folder {name}/ (DeepArt has Human/ and Aigc/ only; its files are listed as skipped)"
        )
    files = {label: tree.files(folder) for label, folder in folders.items()}
    for label, folder in folders.items():
        if not files[label]:
            raise SourceError(f"{tree.describe(folder)} is empty")

    images = read_images(
        tree,
        files[HUMAN] + files[AI],
        report,
        strict=options.strict,
        workers=options.workers,
        near=options.near_duplicates,
    )
    by_painting: dict[str, dict[int, object]] = defaultdict(dict)
    for image in images:
        label = HUMAN if image.relpath.startswith(folders[HUMAN] + "/") else AI
        painting_id = Path(image.relpath).stem
        if label in by_painting[painting_id]:
            other = by_painting[painting_id][label].relpath
            raise SourceError(
                f"two images for painting {painting_id!r} in {folders[label]}/: {other} and {image.relpath}"
            )
        by_painting[painting_id][label] = image
    if not by_painting:
        raise SourceError(f"no readable images in {tree.describe()} ({len(report.skipped)} skipped)")

    poems: dict[str, dict] = {}
    if options.metadata:
        poems = load_poem_metadata(options.metadata, parse_metadata_columns(options.metadata_columns))
        check_known_paintings(poems, set(by_painting), options.metadata)
    else:
        report.notes.append("no --metadata given: poem columns are null")
    extra = string_columns(metadata_extra_columns(poems))
    empty_poem = dict.fromkeys([*POEM_COLUMNS, *extra])

    records = []
    for painting_id in sorted(by_painting):
        pair = by_painting[painting_id]
        if len(pair) == 1:
            report.unpaired.append(next(iter(pair.values())).relpath)
        for label in sorted(pair):
            records.append(
                pair[label].record(
                    label,
                    SOURCE_BY_LABEL[label],
                    painting_id=painting_id,
                    book=_book(painting_id),
                    **poems.get(painting_id, empty_poem),
                )
            )
    return Collection(
        name="deepart",
        records=records,
        features=image_features({**DEEPART_COLUMNS, **extra}),
        card=CARD,
        report=report,
        group_by="painting_id",
        stratify_by=("label",),
        derive_configs=lambda split_records, report: derive_pairs(split_records, report, extra),
        tree=tree,
    )


def derive_pairs(
    split_records: dict[str, list[dict]], report: BuildReport, extra: dict | None = None
) -> dict[str, tuple[Features, dict[str, list[dict]]]]:
    """The ``pairs`` view: one row per painting that has both images (unpaired ones are in the report)."""
    pairs: dict[str, list[dict]] = {}
    for split, rows in split_records.items():
        by_painting: dict[str, dict[int, dict]] = defaultdict(dict)
        for row in rows:
            by_painting[row["painting_id"]][row["label"]] = row
        pairs[split] = [
            {
                "painting_id": painting_id,
                "book": both[HUMAN]["book"],
                "human_image": both[HUMAN]["image"],
                "ai_image": both[AI]["image"],
                "human_file_format": both[HUMAN]["file_format"],
                "ai_file_format": both[AI]["file_format"],
                "ai_source": both[AI]["source"],
                **{column: both[HUMAN][column] for column in [*POEM_COLUMNS, *(extra or {})]},
            }
            for painting_id, both in sorted(by_painting.items())
            if len(both) == 2
        ]
    return {"pairs": (deepart_pairs_features(extra), pairs)}
