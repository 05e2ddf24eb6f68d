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


