"""What ``datasets`` knows about a split but exposes through no public API, read here and nowhere else.

Each helper reads one private attribute or method; ``tests/data/test_internals.py`` checks them against the
installed ``datasets`` (a rename fails there, by name, not deep inside a build), and pyproject.toml caps
``datasets`` below its next major version.
"""

from __future__ import annotations

from datasets import Dataset


def split_fingerprint(dataset: Dataset) -> str:
    """The split's fingerprint: a hash of its data and of every transform that made it (what the ``datasets``
    cache names its files by), so a changed split has another one."""
    return dataset._fingerprint


def is_selection(dataset: Dataset) -> bool:
    """Is the split a selection over its table (an indices mapping left by ``select``, ``shuffle``, ``filter``)?"""
    return dataset._indices is not None


def estimated_nbytes(dataset: Dataset) -> int:
    """The bytes the split's rows hold (images' bytes included), as ``push_to_hub`` sizes its shards."""
    return dataset._estimate_nbytes()
