"""deepart-hf build SOURCE: build a dataset folder (a Hub dataset repository) from a raw source and publish it.

    deepart-hf build deepart --source ../shared/data/deepart --out data/deepart
    deepart-hf build synthetic --out synthetic --n_per_class 200
    deepart-hf build genres --source COMP576-project/dataset --out genres --validation_share 0.1

Each source reads its own typed options (``data/build_command.py``; `python dataset_scripts/SOURCE.py --help`
lists them): --out, --split_ratio, --seed, --overwrite, --push_to_hub for all, --source for the collections,
--metadata for deepart, --label_map for genres and folder, --n_per_class/--image_size/--generators for synthetic.
Errors print one line; an interrupted build writes nothing.
"""

from __future__ import annotations

import argparse

# the sources of data/build_command.py's SOURCES, named here so that --help needs no import of the build
SOURCE_NAMES = ("deepart", "dani", "genres", "dalle_paintings", "folder", "synthetic")
PASSES_FLAGS_ON = True  # the source's own options are parsed by its dataclasses


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", choices=SOURCE_NAMES, help="which source's layout to read")


def main(args: argparse.Namespace, extra: list[str] | None = None) -> int:
    from .build_command import run_dataset_script

    return run_dataset_script(args.source, list(extra or []))
