"""Dall.E vs Paintings (the Duke ComputerVision_540 project): DALL·E images against real paintings.

Upstream layout (the GitHub repository keeps it under ``data/final_output_data/``):
``{train,val,test}/{artificial,human}/*.jpg``. Its splits are kept (``val`` becomes ``validation``); a
folder with just ``artificial/`` and ``human/`` is split by ratio instead. Images lying loose in a split
folder (``test/0_1676152178.jpg`` in some upstream commits) have no label: they are listed in the report.
"""

from __future__ import annotations

from pathlib import Path

from ...constants import AI, HUMAN
from ...errors import LayoutError
from ..schema import UPSTREAM_SPLIT_KEY, image_features
from ..tree import SourceTree
from .base import BuildReport, CardInfo, Collection, SourceOptions, register_source
from .folder import LabelledFolder, read_labelled_folders

CLASS_FOLDERS = {"artificial": AI, "human": HUMAN}
SPLIT_FOLDERS = {"train": "train", "val": "validation", "validation": "validation", "test": "test"}
SOURCE_BY_LABEL = {AI: "DALL·E (OpenAI API)", HUMAN: "The Paintings Dataset (Crowley, Coto, Zisserman)"}

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


def _class_folders(tree: SourceTree, parent: str, split: str | None) -> list[LabelledFolder]:
    found = {name.lower(): f"{parent}/{name}" if parent else name for name in tree.subfolders(parent)}
    missing = [name for name in CLASS_FOLDERS if name not in found]
    if missing:
        raise LayoutError(f"{tree.describe(parent)} has no {' or '.join(m + '/' for m in missing)} folder")
    extra = {UPSTREAM_SPLIT_KEY: split} if split else {}
    return [LabelledFolder(found[name], label, SOURCE_BY_LABEL[label], extra) for name, label in CLASS_FOLDERS.items()]


def _split_folders(tree: SourceTree, folder: str) -> dict[str, str]:
    return {
        SPLIT_FOLDERS[n.lower()]: f"{folder}/{n}" if folder else n
        for n in tree.subfolders(folder)
        if n.lower() in SPLIT_FOLDERS
    }


def matches(tree: SourceTree, folder: str) -> bool:
    split_dirs = _split_folders(tree, folder)
    candidates = list(split_dirs.values()) or [folder]
    return all({n.lower() for n in tree.subfolders(c)} >= set(CLASS_FOLDERS) for c in candidates)


@register_source(
    "dalle_paintings", description="Dall.E vs Paintings ({train,val,test}/{artificial,human}/)", matches=matches
)
def collect(source: Path | None, options: SourceOptions) -> Collection:
    tree = SourceTree.open(source, "Dall.E/Paintings source folder")
    report = BuildReport(source="dalle_paintings")
    split_dirs = _split_folders(tree, "")
    if split_dirs:
        folders = [f for split, path in sorted(split_dirs.items()) for f in _class_folders(tree, path, split)]
        for missing in sorted(set(SPLIT_FOLDERS.values()) - set(split_dirs)):
            report.notes.append(f"upstream has no {missing} split folder: that split is empty")
    else:
        folders = _class_folders(tree, "", None)
    used = {path.split("/")[0] for path in split_dirs.values()} if split_dirs else {f.path for f in folders}
    for name in sorted(set(tree.subfolders()) - used):
        report.notes.append(f"ignored folder {name}/ (its files are listed as skipped)")
    records, sidecar_columns = read_labelled_folders(tree, folders, report, options)
    return Collection(
        name="dalle_paintings",
        records=records,
        features=image_features(sidecar_columns),
        card=CARD,
        report=report,
        upstream_split_key=UPSTREAM_SPLIT_KEY if split_dirs else None,
        tree=tree,
    )
