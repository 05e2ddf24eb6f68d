"""Shared fixtures. Tests run offline: the Hub is never contacted."""

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest

from helpers import DEEPART_SAMPLE


@pytest.fixture(scope="session")
def deepart_sample() -> Path:
    """The real 40-pair DeepArt sample, read in place (never copied into the repository)."""
    if not (DEEPART_SAMPLE / "Human").is_dir():
        pytest.fail(f"the DeepArt sample is missing: expected {DEEPART_SAMPLE} (../shared beside the checkout)")
    return DEEPART_SAMPLE


@pytest.fixture(scope="session", autouse=True)
def pixel_cache_root(tmp_path_factory) -> Path:
    """Decoded-pixel caches of the tests' temporary datasets go to a temporary folder, not the user's cache."""
    from deepart_hf.data.pixel_cache import CACHE_ENV

    root = tmp_path_factory.mktemp("pixel-cache")
    os.environ[CACHE_ENV] = str(root)
    return root


@pytest.fixture(scope="module")
def deepart_folder(deepart_sample, tmp_path_factory) -> Path:
    """The 40-pair sample as train.py reads it: a folder written by dataset_scripts/deepart.py."""
    import deepart_hf

    out = tmp_path_factory.mktemp("data") / "deepart"
    deepart_hf.publish(deepart_hf.build("deepart", deepart_sample), out)
    return out
