"""Shared fixtures. Tests run offline: the Hub is never contacted.

Tests that read a real sample ask for its fixture (``deepart_sample``, ``genres_sample``, ``dani_sample``,
``art_game_sample``, or one built on them): they are marked ``real_data`` and skipped, with the path they
looked for, when the sample is not in ``$DEEPART_HF_TEST_DATA`` (default ``../shared/data`` beside the
checkout), unless ``DEEPART_HF_REQUIRE_TEST_DATA=1`` makes a missing sample fail (as CI does).
"""

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest

from helpers import REQUIRE_TEST_DATA_ENV, TEST_DATA, TEST_DATA_ENV

# fixture -> (folder under the test data, a path inside it that must exist)
SAMPLES = {
    "deepart_sample": ("deepart", "Human"),
    "genres_sample": ("genres-sample", "castle/training_set"),
    "dani_sample": ("dani-layout-sample", "captions.json"),
    "art_game_sample": ("art-game-half", "."),
}


def real_sample(fixture: str) -> Path:
    """A real sample, read in place (never copied into the repository); a skip, or with
    DEEPART_HF_REQUIRE_TEST_DATA=1 a failure, naming the folder when it is absent."""
    name, inside = SAMPLES[fixture]
    folder = TEST_DATA / name
    if not (folder / inside).exists():
        message = f"real-data test: the {name} sample is missing at {folder} (set {TEST_DATA_ENV})"
        if os.environ.get(REQUIRE_TEST_DATA_ENV) == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return folder


@pytest.fixture(scope="session")
def deepart_sample() -> Path:
    """The 40 DeepArt pairs: Feng Zikai's paintings (Human/) and their GPT-4/DALL-E 3 re-creations (Aigc/)."""
    return real_sample("deepart_sample")


@pytest.fixture(scope="session")
def genres_sample() -> Path:
    """The genre study's upstream layout: <genre>/{training,testing}_set/{AI_generated,hand_drawing}/."""
    return real_sample("genres_sample")


@pytest.fixture(scope="session")
def dani_sample() -> Path:
    """D-ANI's raw layout: COCO photographs and the images generators made from their captions."""
    return real_sample("dani_sample")


@pytest.fixture(scope="session")
def art_game_sample() -> Path:
    """500 JPEG artworks, half human, half from DALL-E, Midjourney and Stable Diffusion (file-name prefix)."""
    return real_sample("art_game_sample")


def pytest_collection_modifyitems(items):
    """Every test that uses a real sample, directly or through another fixture, is in the real-data tier."""
    for item in items:
        if SAMPLES.keys() & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.real_data)


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
