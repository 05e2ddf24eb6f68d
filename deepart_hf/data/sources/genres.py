"""Genre subsets (Yin, Rice University): AI and hand-drawn images of the same few subjects.

Two layouts are read, with extensions in any case:

- the genre study's repository as published (``yinchuxuan/COMP576-project``, folder ``dataset/``):
  ``<genre>/{training_set,testing_set}/{AI_generated,hand_drawing}/<n>.jpg``; the study's own train/test
  split is kept (``--validation_share`` carves a validation split out of train, grouped and stratified);
- the simple ``<genre>/{ai,human}/``, split by ratio.

``AI_generated`` and ``ai`` are the ``ai`` class, ``hand_drawing`` and ``human`` the ``human`` class
(``--label_map`` replaces these names). The default configuration ``mixed`` has every genre (the genre
study's "mixed" runs); each genre is also its own configuration, holding the same rows as ``mixed`` so a per-genre
test set is exactly the mixed test set restricted to that genre. Upstream also ships a ``mixed`` folder
that is a renamed copy of the three genres: a genre folder whose images are mostly pixel-identical copies
of other genres' images is recognised as such and its copies are not published twice.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from datasets import Features

from ...constants import AI, HUMAN
from ...errors import LayoutError, SourceError
from ..schema import GENRE_COLUMNS, PIXEL_HASH_KEY, UPSTREAM_SPLIT_KEY, image_features
from ..tree import SourceTree
from .base import BuildReport, CardInfo, Collection, SourceOptions, register_source
from .folder import LabelledFolder, label_of_folder, read_labelled_folders

MIXED = "mixed"
CLASS_FOLDERS = {"ai": AI, "human": HUMAN, "ai_generated": AI, "hand_drawing": HUMAN}
SPLIT_FOLDERS = {
    "training_set": "train", "train": "train",
    "validation_set": "validation", "val": "validation", "validation": "validation",
    "testing_set": "test", "test": "test",
}  # fmt: skip
SOURCE_BY_LABEL = {AI: "AI generator", HUMAN: "human artist"}
RESERVED_CONFIG_NAMES = {MIXED, "data", "default"}
# A genre folder is a re-publication of the others when more than this share of its images are copies.
AGGREGATE_SHARE = 0.5

CARD = CardInfo(
    pretty_name="Human vs AI images by genre",
    summary=(
        "AI-generated and hand-drawn images of the same subjects, one folder per genre, as collected for "
        "*Deep Learning for Distinguish AI Generated Images* (Chuxuan Yin, Rice University; repository "
        "`yinchuxuan/COMP576-project`), whose genres were an anime avatar (`ganyu`), a fantasy castle and a "
        "sports car. Configuration `mixed` has every genre; one configuration per genre holds that genre alone."
    ),
    license="other",
    homepage="https://github.com/yinchuxuan/COMP576-project",
    caveats=[
        "Within a genre the two classes were chosen to look alike, but their sources (generators, artists, "
        "websites) differ: check what a model keys on before trusting it.",
    ],
    tags=["ai-generated-image-detection", "art"],
)


def config_name(genre: str) -> str:
    """A genre folder name as a configuration and folder name on the Hub ("sports car" -> "sports_car")."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", genre).strip("_").lower()


def _class_folders(tree: SourceTree, folder: str, label_map: dict[str, str] | None) -> dict[int, str]:
    found: dict[int, str] = {}
    for name in tree.subfolders(folder):
        label = label_of_folder(name, label_map, CLASS_FOLDERS)
        if label is None:
            continue
        if label in found:
            raise SourceError(f"{tree.describe(folder)} has two folders for one class: {found[label]}/ and {name}/")
        found[label] = name
    return found


def _genre_layout(tree: SourceTree, genre: str, label_map: dict[str, str] | None) -> dict[str | None, dict[int, str]]:
    """{upstream split or None: {label: class folder path}} of one genre folder."""
    splits = {SPLIT_FOLDERS[n.lower()]: n for n in tree.subfolders(genre) if n.lower() in SPLIT_FOLDERS}
    where = {split: f"{genre}/{name}" for split, name in splits.items()} if splits else {None: genre}
    layout = {}
    for split, folder in where.items():
        classes = _class_folders(tree, folder, label_map)
        if len(classes) < 2:
            expected = (
                "ai/ and human/ (or AI_generated/ and hand_drawing/)"
                if label_map is None
                else "folders named in --label_map"
            )
            raise LayoutError(f"{tree.describe(folder)} has no class folders: expected {expected}")
        layout[split] = {label: f"{folder}/{name}" for label, name in classes.items()}
    return layout


def matches(tree: SourceTree, folder: str) -> bool:
    for genre in tree.subfolders(folder):
        try:
            _genre_layout(tree, f"{folder}/{genre}" if folder else genre, None)
            return True
        except SourceError:
            continue
    return False


@register_source(
    "genres",
    description="genre subsets (<genre>/{training_set,testing_set}/{AI_generated,hand_drawing}/ or <genre>/{ai,human}/)",
    matches=matches,
)
def collect(source: Path | None, options: SourceOptions) -> Collection:
    tree = SourceTree.open(source, "genres source folder")
    report = BuildReport(source="genres")
    layouts, names = {}, {}
    for genre_dir in tree.subfolders():
        name = config_name(genre_dir)
        if not name or name in RESERVED_CONFIG_NAMES - {MIXED}:  # mixed: see _drop_aggregate_copies
            raise SourceError(f"genre folder {genre_dir!r} cannot be a configuration name; rename it")
        if name in names:
            raise SourceError(
                f"genre folders {names[name]!r} and {genre_dir!r} have the same configuration name {name!r}"
            )
        names[name] = genre_dir
        layouts[name] = _genre_layout(tree, genre_dir, options.label_map)
    if not layouts:
        raise LayoutError(
            f"{tree.describe()} has no genre folders; expected <genre>/training_set/AI_generated/ ... or <genre>/ai/"
        )
    upstream = {None in layout for layout in layouts.values()}
    if len(upstream) > 1:
        raise SourceError(
            f"{tree.describe()}: some genre folders have training_set/testing_set folders and some do not"
        )
    folders = [
        LabelledFolder(
            path, label, SOURCE_BY_LABEL[label], {"genre": name, **({UPSTREAM_SPLIT_KEY: split} if split else {})}
        )
        for name, layout in layouts.items()
        for split, classes in sorted(layout.items(), key=lambda item: str(item[0]))
        for label, path in sorted(classes.items())
    ]
    records, sidecar_columns = read_labelled_folders(tree, folders, report, options)
    records, card = _drop_aggregate_copies(records, names, report)
    features = image_features({**GENRE_COLUMNS, **sidecar_columns})
    return Collection(
        name="genres",
        records=records,
        features=features,
        card=card,
        report=report,
        stratify_by=("label", "genre"),
        upstream_split_key=None if True in upstream else UPSTREAM_SPLIT_KEY,
        default_config=MIXED,
        derive_configs=lambda split_records, _report: derive_genre_configs(features, split_records),
        tree=tree,
    )


def _aggregates(by_genre: dict[str, list[dict]], genres_by_hash: dict[str, set[str]]) -> set[str]:
    """Genre folders that re-publish others: most images are copies, drawn from two or more other genres.

    (A genre's own images are all copies of the aggregate's too, but only of that one folder.) A folder
    named ``mixed`` needs only the first condition, so a two-genre source's ``mixed`` is recognised too.
    """
    found = set()
    for genre, rows in by_genre.items():
        sources = [genres_by_hash[r[PIXEL_HASH_KEY]] - {genre} for r in rows]
        copies = sum(bool(s) for s in sources)
        spread = len(set().union(*sources))
        if copies > AGGREGATE_SHARE * len(rows) and (spread >= 2 or genre == MIXED):
            found.add(genre)
    return found


def _drop_aggregate_copies(
    records: list[dict], folders: dict[str, str], report: BuildReport
) -> tuple[list[dict], CardInfo]:
    """Leave out the copies held by a genre folder that re-publishes the others (upstream's ``mixed``)."""
    by_genre: dict[str, list[dict]] = {}
    genres_by_hash: dict[str, set[str]] = {}
    originals: dict[str, dict] = {}
    for record in records:
        by_genre.setdefault(record["genre"], []).append(record)
        genres_by_hash.setdefault(record[PIXEL_HASH_KEY], set()).add(record["genre"])
    aggregates = _aggregates(by_genre, genres_by_hash)
    if MIXED in by_genre and MIXED not in aggregates:
        raise SourceError(
            f"genre folder {folders[MIXED]!r} cannot be a configuration name (it is the one with every genre); rename it"
        )
    if not aggregates:
        return records, CARD
    for record in records:
        if record["genre"] not in aggregates:
            originals.setdefault(record[PIXEL_HASH_KEY], record)
    caveats = []
    for genre in sorted(aggregates):
        rows = by_genre[genre]
        copies = [(r, originals[r[PIXEL_HASH_KEY]]) for r in rows if r[PIXEL_HASH_KEY] in originals]
        report.copies_dropped.extend({"image_id": r["image_id"], "copy_of": o["image_id"]} for r, o in copies)
        unique = [r for r in rows if r[PIXEL_HASH_KEY] not in originals]
        for row in unique:
            row["genre"] = None
        caveats.append(
            f"The source's `{folders[genre]}/` folder re-publishes the genre folders: {len(copies)} of its {len(rows)} images are "
            f"pixel-identical copies of genre images and are not published twice (configuration `{MIXED}` is built from the "
            f"genres themselves; each copy and its original are listed in `build_report.json`)"
            + (f"; its {len(unique)} other image(s) are kept in `{MIXED}` with a null `genre`." if unique else ".")
        )
        report.notes.append(
            f"{len(copies)} image(s) of {folders[genre]}/ are copies of genre images: not published twice"
        )
    kept = [r for r in records if r["genre"] not in aggregates]
    return kept, replace(CARD, caveats=[*CARD.caveats, *caveats])


def derive_genre_configs(
    features: Features, split_records: dict[str, list[dict]]
) -> dict[str, tuple[Features, dict[str, list[dict]]]]:
    genres = sorted({row["genre"] for rows in split_records.values() for row in rows if row["genre"] is not None})
    return {
        genre: (
            features,
            {split: [row for row in rows if row["genre"] == genre] for split, rows in split_records.items()},
        )
        for genre in genres
    }
