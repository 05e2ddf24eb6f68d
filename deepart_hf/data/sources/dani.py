"""The ANID / D-ANI layout (DNAI): COCO val2017 photographs and what 9 generators made from them.

Raw layout, as the generation scripts of ``ryliu68/DJudge`` write it::

    ORG/<resolution>/<16-digit COCO image id>.jpg                        the photographs, one copy per resolution
    <Generator>/<resolution>/<T2I|I2I|TI2I>/<cocoImageId>_<captionId>.jpg what a generator made from it
    captions.json                                                         {image_id: {image_name, captions: [...]}}

Decisions:

* A COCO image and everything made from it is one group (``coco_id``): a split never puts a photograph in
  training and its re-creations in the test set, or the test shares content with training.
* ``generator`` is a ClassLabel over ``DANI_GENERATORS`` in a fixed order, so ids do not move when
  ``--generators`` keeps fewer; a generator folder outside it is reported and skipped.
* The file format comes from the bytes: the DALL-E files are PNG under a ``.jpg`` name.
* The whole set (445k images) does not fit in memory: the records here hold metadata and file sizes only, and
  ``read_row`` reads an image when the builder writes its row, shard by shard (``data.publish``).
* ``--max_per_generator`` and ``--real_per_generated`` subsample by one seeded order of COCO images, so
  every generator keeps the same COCO images and the groups stay whole and few.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from ...constants import AI, HUMAN
from ...errors import SourceError
from ..images import ImageFile, read_image_file, require_dir
from ..schema import DANI_COLUMNS, DANI_GENERATORS, DANI_ORIGINAL_TASK, DANI_TASKS, image_features
from ..tree import is_hidden
from .base import BuildReport, CardInfo, Collection, SourceOptions, register_source

ORIGINALS_FOLDER = "ORG"
CAPTIONS_FILE = "captions.json"
KNOWN_FILES = {CAPTIONS_FILE, "README.md"}
PHOTO_SOURCE = "COCO val2017 photograph"
GENERATOR_ID = {name: index for index, name in enumerate(DANI_GENERATORS)}
# A COCO image and all made from it in one split; each generator and task in every split; most for training
# (a large set that reproduces no published split).
SPLITTING = {"group_by": "coco_id", "stratify_by": ("generator", "task"), "default_split_ratio": "8:1:1"}

CARD = CardInfo(
    pretty_name="D-ANI / DNAI: natural photographs vs AI-generated images",
    summary=(
        "**Photographs, not artworks.** The natural images are COCO val2017 photographs; the AI images were made "
        "from them by 9 generators (DF-GAN, GALIP, Stable Diffusion 1.4 / 1.5 / 2.1 / XL, Versatile Diffusion, "
        "DALL-E 2 and 3) with text-to-image (T2I: the COCO caption), image-to-image (I2I: the photograph) and "
        "text-and-image-to-image (TI2I) prompts. This is the DNAI dataset of the ANID benchmark (Liu et al. 2024), "
        "published by its author as D-ANI; this repository was rebuilt from the raw folder layout by deepart-hf.\n\n"
        "Besides `label` (human = the photograph, ai = generated) every row names its `generator` (a ClassLabel "
        f"whose ids are fixed: {', '.join(f'{i} = {n}' for i, n in enumerate(DANI_GENERATORS))}), so the set also "
        "trains generator attribution (`train.py --task attribution`)."
    ),
    license="cc-by-nc-4.0",
    homepage="https://github.com/ryliu68/ANID (paper), https://github.com/ryliu68/DJudge and "
    "https://huggingface.co/datasets/Renyang/DANI (data, CC-BY-NC-4.0)",
    citation=(
        "@article{liu2024anid,\n"
        "  title   = {ANID: How Far Are We? Evaluating the Discrepancies Between AI-synthesized Images and Natural "
        "Images through Multimodal Guidance},\n"
        "  author  = {Liu, Renyang and others},\n"
        "  journal = {arXiv preprint arXiv:2412.17632},\n"
        "  year    = {2024}\n"
        "}\n"
        "@misc{dani,\n"
        "  title        = {D-ANI: Distinguishing Natural and AI-generated Images},\n"
        "  author       = {Liu, Renyang},\n"
        "  howpublished = {\\url{https://huggingface.co/datasets/Renyang/DANI}},\n"
        "  note         = {Generation code: https://github.com/ryliu68/DJudge. License CC-BY-NC-4.0}\n"
        "}"
    ),
    caveats=[
        "Photographs, not art: a detector trained here learns natural photographs against generated images of "
        "the same scenes; it says nothing about paintings.",
        "Non-commercial licence (CC-BY-NC-4.0), inherited from D-ANI; the photographs are COCO's (Flickr, various licences).",
        "Every photograph is stored at several resolutions (224/256/512) and the generators work at their own "
        "(DF-GAN 256, GALIP 224, DALL-E 3 1024, the rest 512): resolution and resampling can tell classes and "
        "generators apart. Compare detectors within one --resolutions.",
        "The DALL-E images are PNG, every other image JPEG: compression alone separates DALL-E from the rest.",
        "Heavily imbalanced as published (5k photographs against 440k generated images): see the counts, and "
        "balance with --max_per_generator / --real_per_generated.",
    ],
    tags=["ai-generated-image-detection", "photographs", "coco", "generator-attribution"],
)


def _parse_list(value, what: str, known: tuple[str, ...] | None = None, kind=str) -> list | None:
    """``"a,b"`` or a list -> list; names outside ``known`` are a one-line error naming them."""
    if value in (None, "", []):
        return None
    items = [item.strip() for item in value.split(",")] if isinstance(value, str) else [str(v) for v in value]
    try:
        parsed = [kind(item) for item in items if item]
    except ValueError:
        raise SourceError(f"--{what}: expected a comma-separated list of numbers, got {value!r}") from None
    unknown = [item for item in parsed if known is not None and item not in known]
    if unknown:
        raise SourceError(f"--{what}: unknown {', '.join(map(str, unknown))}; known: {', '.join(known)}")
    return parsed


def _captions(root: Path, report: BuildReport) -> dict[tuple[int, int], str]:
    path = root / CAPTIONS_FILE
    if not path.is_file():
        report.notes.append(f"no {CAPTIONS_FILE}: the caption column is empty")
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {
            (int(entry["image_id"]), int(c["caption_id"])): c["caption"]
            for entry in data.values()
            for c in entry["captions"]
        }
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SourceError(
            f"{path}: not the D-ANI captions file ({{image_id: {{image_name, captions: [{{caption_id, caption}}]}}}}): {exc}"
        ) from None


def _int_folder(path: Path, root: Path, report: BuildReport) -> int | None:
    if path.name.isdigit():
        return int(path.name)
    report.skip(path.relative_to(root).as_posix() + "/", "not a resolution folder (expected a number such as 512)")
    return None


def _files(folder: Path, root: Path, report: BuildReport) -> list[Path]:
    entries = sorted(folder.iterdir())
    for extra in (e for e in entries if not e.is_file()):
        report.skip(extra.relative_to(root).as_posix() + "/", "unexpected folder in the D-ANI layout")
    return [e for e in entries if e.is_file()]


def subfolders(root: Path, report: BuildReport) -> list[Path]:
    """Sub-folders of root; loose files beside them are reported, never silently ignored (system files are)."""
    entries = sorted(entry for entry in root.iterdir() if not is_hidden(entry.name))
    for loose in (entry for entry in entries if entry.is_file()):
        report.skip(loose.relative_to(root).as_posix(), "not inside a class folder")
    return [entry for entry in entries if entry.is_dir()]


def _record(path: Path, root: Path, **columns) -> dict:
    return {"image_id": path.relative_to(root).as_posix(), "nbytes": path.stat().st_size, **columns}


def scan(
    root: Path, report: BuildReport, captions: dict[tuple[int, int], str], resolutions, generators, tasks
) -> list[dict]:
    """Metadata records of every image the filters keep; names that do not fit the layout are reported."""
    records = []
    for top in subfolders(root, report):
        if top.name == ORIGINALS_FOLDER:
            generator = DANI_GENERATORS[0]
        elif top.name in GENERATOR_ID and top.name != DANI_GENERATORS[0]:
            generator = top.name
            if generators is not None and generator not in generators:
                continue
        else:
            report.skip(
                top.name + "/",
                f"not a D-ANI generator folder (known: {ORIGINALS_FOLDER}, {', '.join(DANI_GENERATORS[1:])})",
            )
            continue
        for res_folder in sorted(p for p in top.iterdir() if p.is_dir()):
            resolution = _int_folder(res_folder, root, report)
            if resolution is None or (resolutions is not None and resolution not in resolutions):
                continue
            if generator == DANI_GENERATORS[0]:
                for path in _files(res_folder, root, report):
                    if not path.stem.isdigit():
                        report.skip(path.relative_to(root).as_posix(), "photograph name is not a COCO image id")
                        continue
                    records.append(
                        _record(
                            path,
                            root,
                            label=HUMAN,
                            generator=0,
                            task=DANI_ORIGINAL_TASK,
                            resolution=resolution,
                            coco_id=int(path.stem),
                            caption_id=None,
                            caption=None,
                            source=PHOTO_SOURCE,
                        )
                    )
                continue
            for task_folder in sorted(p for p in res_folder.iterdir() if p.is_dir()):
                if task_folder.name not in DANI_TASKS:
                    report.skip(
                        task_folder.relative_to(root).as_posix() + "/", f"not a D-ANI task ({', '.join(DANI_TASKS)})"
                    )
                    continue
                if tasks is not None and task_folder.name not in tasks:
                    continue
                for path in _files(task_folder, root, report):
                    coco, sep, caption = path.stem.partition("_")
                    if not (sep and coco.isdigit() and caption.isdigit()):
                        report.skip(path.relative_to(root).as_posix(), "name is not <cocoImageId>_<captionId>")
                        continue
                    key = (int(coco), int(caption))
                    records.append(
                        _record(
                            path,
                            root,
                            label=AI,
                            generator=GENERATOR_ID[generator],
                            task=task_folder.name,
                            resolution=resolution,
                            coco_id=key[0],
                            caption_id=key[1],
                            caption=captions.get(key),
                            source=generator,
                        )
                    )
    return records


def subsample(
    records: list[dict], seed: int, max_per_generator: int | None, real_per_generated: float | None, report: BuildReport
) -> list[dict]:
    """Cap each generator at ``max_per_generator`` images and the photographs at ``real_per_generated`` times the
    generated ones, all taking COCO images in one seeded order (photographs of kept COCO images first)."""
    order = sorted({r["coco_id"] for r in records})
    random.Random(seed).shuffle(order)
    rank = {coco: index for index, coco in enumerate(order)}
    by_generator: dict[int, list[dict]] = {}
    for record in records:
        by_generator.setdefault(record["generator"], []).append(record)
    kept = []
    for generator, rows in sorted(by_generator.items()):
        if generator == 0:
            continue
        rows.sort(key=lambda r: (rank[r["coco_id"]], r["image_id"]))
        if max_per_generator is not None and len(rows) > max_per_generator:
            report.notes.append(
                f"kept {max_per_generator} of {len(rows)} {DANI_GENERATORS[generator]} images (--max_per_generator)"
            )
            rows = rows[:max_per_generator]
        kept += rows
    photos = by_generator.get(0, [])
    if real_per_generated is not None:
        wanted = round(real_per_generated * len(kept))
        used = {r["coco_id"] for r in kept}
        photos.sort(key=lambda r: (r["coco_id"] not in used, rank[r["coco_id"]], r["image_id"]))
        if wanted < len(photos):
            report.notes.append(
                f"kept {wanted} of {len(photos)} photographs (--real_per_generated {real_per_generated:g})"
            )
            photos = photos[:wanted]
    return photos + kept


def make_reader(root: Path):
    """``record -> row``: the image read and checked by the one decoder, or the reason it cannot be used."""

    def read_row(record: dict) -> dict | str:
        image = read_image_file(root, root / record["image_id"])
        if not isinstance(image, ImageFile):
            return image
        row = {key: value for key, value in record.items() if key != "nbytes"}
        return {
            **row,
            "image": image.as_feature(),
            "file_format": image.file_format,
            "width": image.width,
            "height": image.height,
        }

    return read_row


@register_source(
    "dani", description="ANID/D-ANI (DNAI): COCO photographs vs 9 generators, with generator, task and caption"
)
def collect(source: Path | None, options: SourceOptions) -> Collection:
    root = require_dir(Path(source), "source folder")
    extra = options.extra
    resolutions = _parse_list(extra.get("resolutions"), "resolutions", kind=int)
    generators = _parse_list(extra.get("generators"), "generators", DANI_GENERATORS[1:])
    tasks = _parse_list(extra.get("tasks"), "tasks", DANI_TASKS)
    max_per_generator, real_per_generated = extra.get("max_per_generator"), extra.get("real_per_generated")
    if max_per_generator is not None and max_per_generator < 1:
        raise SourceError(f"--max_per_generator must be at least 1, got {max_per_generator}")
    if real_per_generated is not None and real_per_generated < 0:
        raise SourceError(f"--real_per_generated must be 0 or more, got {real_per_generated}")

    report = BuildReport(source="dani")
    captions = _captions(root, report)
    records = scan(root, report, captions, resolutions, generators, tasks)
    # subfolders() reports every loose file; captions.json and a README belong to the layout
    report.skipped = [s for s in report.skipped if s.path not in KNOWN_FILES]
    if not any(r["label"] == AI for r in records):
        raise SourceError(
            f"{root}: no generated images found (expected <Generator>/<resolution>/<task>/<coco>_<caption>.jpg; "
            f"{len(report.skipped)} entries skipped)"
        )
    records = subsample(records, options.seed, max_per_generator, real_per_generated, report)
    missing = sum(1 for r in records if r["label"] == AI and r["caption"] is None)
    if missing and captions:
        report.notes.append(f"{missing} generated image(s) have no caption in {CAPTIONS_FILE}")
    return Collection(
        "dani", records, image_features(DANI_COLUMNS), CARD, report, read_row=make_reader(root), **SPLITTING
    )
