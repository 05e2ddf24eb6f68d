"""Genre subsets (Yin, Rice University): AI and hand-drawn images of the same few subjects.

Layout: ``<genre>/{ai,human}/*``; the seed's genres were a manga avatar, a fantasy castle and a sports
car, any names work. The default configuration ``mixed`` has every genre (the seed's "mixed" runs);
each genre is also its own configuration, holding the same rows as ``mixed`` so a per-genre test set
is exactly the mixed test set restricted to that genre.
"""

from __future__ import annotations

import re
from pathlib import Path

from datasets import Features

from ...constants import AI, HUMAN
from ...errors import SourceError
from ..images import require_dir
from ..schema import GENRE_COLUMNS, image_features
from .base import BuildReport, CardInfo, Collection, SourceOptions, register_source
from .folder import LabelledFolder, read_labelled_folders, subfolders

MIXED = "mixed"
CLASS_FOLDERS = {"ai": AI, "human": HUMAN}
SOURCE_BY_LABEL = {AI: "AI generator", HUMAN: "human artist"}
RESERVED_CONFIG_NAMES = {MIXED, "data", "default"}

CARD = CardInfo(
    pretty_name="Human vs AI images by genre",
    summary=(
        "AI-generated and hand-drawn images of the same subjects, one folder per genre, as collected for "
        "*Deep Learning for Distinguish AI Generated Images* (Chuxuan Yin, Rice University), whose genres "
        "were an anime avatar, a fantasy castle and a sports car. Configuration `mixed` has every genre; "
        "one configuration per genre holds that genre alone."
    ),
    license="other",
    caveats=[
        "Within a genre the two classes were chosen to look alike, but their sources (generators, artists, "
        "websites) differ: check what a model keys on before trusting it.",
    ],
    tags=["ai-generated-image-detection", "art"],
)


def config_name(genre: str) -> str:
    """A genre folder name as a configuration and folder name on the Hub ("sports car" -> "sports_car")."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", genre).strip("_").lower()


@register_source("genres", description="genre subsets (<genre>/{ai,human}/), one config per genre plus mixed")
def collect(source: Path | None, options: SourceOptions) -> Collection:
    root = require_dir(Path(source), "genres source folder")
    report = BuildReport(source="genres")
    folders, genres = [], {}
    for genre_dir in subfolders(root, report):
        name = config_name(genre_dir.name)
        if not name or name in RESERVED_CONFIG_NAMES:
            raise SourceError(f"genre folder {genre_dir.name!r} cannot be a configuration name; rename it")
        if name in genres:
            raise SourceError(f"genre folders {genres[name]!r} and {genre_dir.name!r} have the same configuration name {name!r}")
        genres[name] = genre_dir.name
        found = {p.name.lower(): p for p in genre_dir.iterdir() if p.is_dir()}
        missing = [c for c in CLASS_FOLDERS if c not in found]
        if missing:
            raise SourceError(f"{genre_dir} has no {' or '.join(m + '/' for m in missing)} folder")
        for class_name, label in CLASS_FOLDERS.items():
            folders.append(LabelledFolder(found[class_name], label, SOURCE_BY_LABEL[label], {"genre": name}))
    if not folders:
        raise SourceError(f"{root} has no genre folders; expected <genre>/ai/ and <genre>/human/")
    return Collection(
        name="genres",
        records=read_labelled_folders(root, folders, report, options),
        features=image_features(GENRE_COLUMNS),
        card=CARD,
        report=report,
        stratify_by=("label", "genre"),
        default_config=MIXED,
        derive_configs=derive_genre_configs,
    )


def derive_genre_configs(split_records: dict[str, list[dict]], report: BuildReport) -> dict[str, tuple[Features, dict[str, list[dict]]]]:
    genres = sorted({row["genre"] for rows in split_records.values() for row in rows})
    features = image_features(GENRE_COLUMNS)
    return {
        genre: (features, {split: [row for row in rows if row["genre"] == genre] for split, rows in split_records.items()})
        for genre in genres
    }
