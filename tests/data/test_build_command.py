"""`deepart-hf build SOURCE` builds and publishes with that source's typed options, like dataset_scripts/SOURCE.py."""

import pytest

from deepart_hf.cli import main as cli
from deepart_hf.data.build_command import SOURCES
from deepart_hf.data.build_source_command import SOURCE_NAMES
from deepart_hf.data.loading import load_splits


def test_build_synthetic_writes_a_folder_load_dataset_reads(tmp_path, capsys):
    out = tmp_path / "synthetic"
    status = cli(["build", "synthetic", "--out", str(out), "--n_per_class", "6", "--image_size", "16", "--seed", "1"])
    assert status == 0
    assert capsys.readouterr().out.startswith("Built synthetic: 12 images (human 6, ai 6;")
    assert sum(len(split) for split in load_splits(str(out)).values()) == 12
    assert "deepart-hf build synthetic --out" in (out / "README.md").read_text()


def test_build_names_the_sources_when_the_source_is_unknown(capsys):
    with pytest.raises(SystemExit) as exited:
        cli(["build", "paintings"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'paintings'" in err and "'deepart', 'dani', 'genres'" in err


def test_the_command_names_every_source_the_build_knows():
    assert list(SOURCE_NAMES) == list(SOURCES)
