"""The dataset scripts as a user runs them: one summary on success, one error line on bad input."""

import os
import subprocess
import sys

import pytest

from deepart_hf.data.loading import (
    load_splits as load_dataset,  # datasets' own would reuse a cache of another folder with the same name
)
from helpers import REPO, copy_deepart_subset


def run_script(name, *args, cwd):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
    return subprocess.run(
        [sys.executable, str(REPO / "dataset_scripts" / f"{name}.py"), *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def small_source(deepart_sample, tmp_path_factory):
    return copy_deepart_subset(deepart_sample, tmp_path_factory.mktemp("raw"), [f"Gushici-{i}" for i in range(5)])


def test_deepart_script_writes_a_folder_load_dataset_reads(small_source, tmp_path):
    done = run_script(
        "deepart", "--source", small_source, "--out", "deepart", "--split_ratio", "2:1:2", "--seed", "5", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Built deepart: 10 images (human 5, ai 5; train 4, validation 2, test 4)")
    assert "load_dataset(" in done.stdout
    assert sum(len(d) for d in load_dataset(str(tmp_path / "deepart")).values()) == 10
    assert sum(len(d) for d in load_dataset(str(tmp_path / "deepart"), "pairs").values()) == 5


@pytest.mark.parametrize(
    "args, message",
    [
        (["--source", "{missing}", "--out", "o"], "error: DeepArt source folder not found"),
        (["--source", "{source}", "--out", "o", "--split_ratio", "1:1"], "error: invalid split ratio '1:1'"),
        (["--source", "{source}", "--out", "o", "--metadata", "{missing}.csv"], "error: metadata file not found"),
        (["--source", "{source}", "--out", "{source}/Human"], "error: output folder"),
    ],
)
def test_bad_input_is_one_line_without_a_traceback(small_source, tmp_path, args, message):
    args = [a.format(source=small_source, missing=tmp_path / "missing") for a in args]
    done = run_script("deepart", *args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().startswith(message) and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_existing_output_needs_overwrite_and_push_offline_is_one_line(small_source, tmp_path):
    (tmp_path / "out").mkdir()
    refused = run_script("deepart", "--source", small_source, "--out", "out", cwd=tmp_path)
    assert refused.returncode == 2 and "already exists; pass --overwrite" in refused.stderr
    pushed = run_script(
        "deepart", "--source", small_source, "--out", "out", "--overwrite", "--push_to_hub", "me/deepart", cwd=tmp_path
    )
    assert pushed.returncode == 2
    assert pushed.stderr.strip().startswith("error: push to me/deepart failed") and "Traceback" not in pushed.stderr
    assert (tmp_path / "out" / "README.md").exists()  # the local folder is complete before the push


def test_folder_script_parses_a_label_map(tmp_path):
    from helpers import write_image

    for folder in ("real", "fake"):
        for i in range(3):
            write_image(tmp_path / "mine" / folder / f"{i}.png")
    done = run_script(
        "folder",
        "--source",
        "mine",
        "--out",
        "out",
        "--label_map",
        "real=human,fake=ai",
        "--split_ratio",
        "1:1:1",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    bad = run_script("folder", "--source", "mine", "--out", "out2", "--label_map", "real=person", cwd=tmp_path)
    assert bad.returncode == 2 and "invalid --label_map entry 'real=person'" in bad.stderr


def test_skipped_files_are_named_on_the_console_and_all_kept_in_the_report(tmp_path):
    from helpers import write_image

    for label in ("human", "ai"):
        for i in range(3):
            write_image(tmp_path / "mine" / label / f"{i}.png")
    for i in range(12):
        (tmp_path / "mine" / "ai" / f"broken-{i:02d}.png").write_bytes(b"not an image")
    done = run_script("folder", "--source", "mine", "--out", "out", "--split_ratio", "1:1:1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    listed = [line.strip() for line in done.stdout.splitlines() if line.startswith("  ")]
    assert listed[:10] == [f"ai/broken-{i:02d}.png: not an image Pillow can read" for i in range(10)]
    assert listed[10] == "... and 2 more (all in build_report.json)"
    import json

    report = json.loads((tmp_path / "out" / "build_report.json").read_text())
    assert report["skipped_count"] == 12 and len(report["skipped"]) == 12


def test_overwrite_replaces_a_previous_build_but_never_a_users_folder(tmp_path):
    mine = tmp_path / "mine"
    (mine / "sub").mkdir(parents=True)
    (mine / "precious.txt").write_text("notes")
    (mine / "sub" / "thesis.tex").write_text("chapter 1")
    refused = run_script(
        "synthetic", "--out", "mine", "--overwrite", "--n_per_class", "4", "--image-size", "32", cwd=tmp_path
    )
    assert refused.returncode == 2 and refused.stderr.strip().splitlines() == [
        f"error: {mine} was not written by deepart-hf (it holds no deepart-hf-build.json): not replaced; "
        "move it away or choose another folder"
    ]
    assert (mine / "precious.txt").read_text() == "notes" and (mine / "sub" / "thesis.tex").read_text() == "chapter 1"
