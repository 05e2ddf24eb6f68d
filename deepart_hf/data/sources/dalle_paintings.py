"""Dall.E vs Paintings (the Duke ComputerVision_540 project): DALL·E images against real paintings.

Upstream layout: ``{train,val,test}/{artificial,human}/*.jpg``. Its splits are kept (``val`` becomes
``validation``); a folder with just ``artificial/`` and ``human/`` is split by ratio instead.
"""

from __future__ import annotations

from pathlib import Path

from ...constants import AI, HUMAN
from ...errors import SourceError
from ..images import require_dir
from ..schema import image_features
from .base import BuildReport, CardInfo, Collection, SourceOptions, register_source
from .folder import LabelledFolder, read_labelled_folders, subfolders

CLASS_FOLDERS = {"artificial": AI, "human": HUMAN}
SPLIT_FOLDERS = {"train": "train", "val": "validation", "validation": "validation", "test": "test"}
SOURCE_BY_LABEL = {AI: "DALL·E (OpenAI API)", HUMAN: "The Paintings Dataset (Crowley, Coto, Zisserman)"}
SPLIT_KEY = "_upstream_split"

CARD = CardInfo(
    pretty_name="Dall.E vs Paintings",
    summary=(
        "600+ images generated with the DALL·E API from varied random prompts, against 600+ paintings "
        "downloaded from the URLs of *The Paintings Dataset* (Crowley, Coto, Zisserman, Reshodko, 2021; "
        "https://www.robots.ox.ac.uk/~vgg/data/paintings/). Collected for a Duke course project that "
        "fine-tuned a ResNet-18 (Hugging Face Space NehaBardeDUKE/ComputerVision_540)."
    ),
    license="other",
    homepage="https://huggingface.co/spaces/NehaBardeDUKE/ComputerVision_540",
    citation=(
        "@misc{paintings_dataset,\n"
        "  title  = {The Paintings Dataset},\n"
        "  author = {Crowley, Elliot J. and Coto, Ernesto and Zisserman, Andrew and Reshodko, Irina},\n"
        "  year   = {2021},\n"
        "  url    = {https://www.robots.ox.ac.uk/~vgg/data/paintings/}\n"
        "}"
    ),
    caveats=[
        "The two classes differ in content (prompted DALL·E scenes vs. museum paintings), not only in who made them: "
        "a detector can learn subject matter instead of generation traces.",
        "The paintings are downloaded web images whose licences belong to their holders.",
    ],
    tags=["ai-generated-image-detection", "art", "dall-e"],
)


def _class_folders(parent: Path, split: str | None) -> list[LabelledFolder]:
    found = {p.name.lower(): p for p in parent.iterdir() if p.is_dir()}
    missing = [name for name in CLASS_FOLDERS if name not in found]
    if missing:
        raise SourceError(f"{parent} has no {' or '.join(m + '/' for m in missing)} folder")
    extra = {SPLIT_KEY: split} if split else {}
    return [LabelledFolder(found[name], label, SOURCE_BY_LABEL[label], extra) for name, label in CLASS_FOLDERS.items()]


@register_source("dalle_paintings", description="Dall.E vs Paintings ({train,val,test}/{artificial,human}/)")
def collect(source: Path | None, options: SourceOptions) -> Collection:
    root = require_dir(Path(source), "Dall.E/Paintings source folder")
    report = BuildReport(source="dalle_paintings")
    children = {p.name.lower(): p for p in subfolders(root, report)}
    split_dirs = {SPLIT_FOLDERS[name]: path for name, path in children.items() if name in SPLIT_FOLDERS}
    if split_dirs:
        folders = [f for split, path in sorted(split_dirs.items()) for f in _class_folders(path, split)]
        for missing in sorted(set(SPLIT_FOLDERS.values()) - set(split_dirs)):
            report.notes.append(f"upstream has no {missing} split folder: that split is empty")
    else:
        folders = _class_folders(root, None)
    expected = SPLIT_FOLDERS if split_dirs else CLASS_FOLDERS
    for name in sorted(set(children) - set(expected)):
        report.notes.append(f"ignored folder {children[name].name}/")
    return Collection(
        name="dalle_paintings",
        records=read_labelled_folders(root, folders, report, options),
        features=image_features(),
        card=CARD,
        report=report,
        upstream_split_key=SPLIT_KEY if split_dirs else None,
    )
