"""Dataset builds killed at the worst moments, and a disk that fills up: the output folder is the previous build
or the new one, never half of one; running the same command again finishes it; no user file is ever lost.

Each build runs in a child process (forked from the test, so the libraries are imported once) that sends itself
SIGKILL or SIGTERM at a chosen point of the real command."""

import os
import resource
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from datasets import Image as HFImage

from deepart_hf.data.loading import load_splits
from helpers import REPO, write_image

COMMAND = ["--source", "mine", "--out", "out", "--split_ratio", "1:1:2", "--seed", "1", "--overwrite", "--workers", "1"]


def run_folder_script(argv, cwd: Path, *, fault=None, signum=None, file_size_limit=None) -> tuple[int, str]:
    """(exit status, or minus the signal that ended it; stderr) of dataset_scripts/folder.py in a child process."""
    err = cwd / "stderr.txt"
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 99
        try:
            os.chdir(cwd)
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (the child ends with os._exit)
            sys.stderr = open(err, "w")  # noqa: SIM115
            _private_progress_lock()
            if file_size_limit is not None:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # then a write past the limit fails with EFBIG
                resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))
            if fault:
                FAULTS[fault](signum)
            from deepart_hf.data.build_command import run_dataset_script

            code = run_dataset_script("folder", argv)
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), err.read_text()


def _private_progress_lock():
    """tqdm's lock is a semaphore shared across fork: a child killed while holding it would freeze the test's own
    progress bars, so the child gets a lock of its own."""
    import tqdm.std

    lock, classes = threading.RLock(), [tqdm.std.tqdm]
    while classes:
        cls = classes.pop()
        cls._lock = lock
        classes.extend(cls.__subclasses__())


def _after(owner, name, signum, *, calls=1, before=False, when=lambda *a, **k: True):
    """Replace ``owner.name`` by a wrapper that sends ``signum`` to this process on its ``calls``-th matching call."""
    original = getattr(owner, name)
    seen = []

    def wrapper(*args, **kwargs):
        matching = when(*args, **kwargs)
        seen.extend([1] if matching else [])
        if matching and before and len(seen) == calls:
            os.kill(os.getpid(), signum)
        result = original(*args, **kwargs)
        if matching and not before and len(seen) == calls:
            os.kill(os.getpid(), signum)
        return result

    setattr(owner, name, wrapper)


def _while_reading(signum):
    from deepart_hf.data.tree import SourceTree

    _after(SourceTree, "read", signum, calls=3)


def _while_writing_shards(signum):
    from datasets import Dataset

    _after(Dataset, "to_parquet", signum)  # once the first shard is on disk


def _before_the_final_rename(signum):
    import deepart_hf.files

    _after(deepart_hf.files, "replace_folder", signum, before=True)


def _between_setting_aside_and_moving_in(signum):
    import deepart_hf.files

    # The previous build has been set aside; the new one is about to take its name.
    _after(
        deepart_hf.files.os,
        "replace",
        signum,
        before=True,
        when=lambda src, dst: Path(src).name.startswith(".out.tmp-") and Path(dst).name == "out",
    )


FAULTS = {
    "reading": _while_reading,
    "writing shards": _while_writing_shards,
    "before the final rename": _before_the_final_rename,
    "between the two renames": _between_setting_aside_and_moving_in,
}


def make_source(root: Path) -> Path:
    for offset, label in enumerate(("human", "ai")):
        for i in range(4):
            write_image(root / "mine" / label / f"{i}.png", size=48, seed=10 * offset + i)  # the same in every folder
    return root / "mine"


def contents(folder: Path) -> dict:
    """Everything a user gets from a dataset folder: its files, card and report, and every row with its bytes."""
    splits = load_splits(str(folder))
    rows = {
        split: ds.cast_column("image", HFImage(decode=False)).to_list()  # image bytes, not decoded pixels
        for split, ds in splits.items()
    }
    return {
        "files": sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")),
        "card": (folder / "README.md").read_text(),
        "report": (folder / "build_report.json").read_text(),
        "rows": rows,
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """What the command builds when nothing goes wrong."""
    root = tmp_path_factory.mktemp("reference")
    make_source(root)
    status, err = run_folder_script(COMMAND, root)
    assert status == 0, err
    return contents(root / "out")


@pytest.fixture()
def previous_build(tmp_path) -> dict:
    """A user's folder with the source, their own notes beside it, and an earlier build in out/ (another seed)."""
    make_source(tmp_path)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "precious.txt").write_text("keep me")
    status, err = run_folder_script([*COMMAND[:-4], "7", "--workers", "1"], tmp_path)
    assert status == 0, err
    return contents(tmp_path / "out")


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".out."))


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_killed_build_leaves_the_previous_one_and_the_same_command_finishes_it(
    tmp_path, previous_build, reference, fault, signum
):
    status, err = run_folder_script(COMMAND, tmp_path, fault=fault, signum=signum)
    if signum == signal.SIGTERM and fault != "reading":  # writing: SIGTERM unwinds, removes its folder, one line
        assert status == 143 and err.strip().splitlines() == [
            "interrupted: out was left as it was (builds are written whole or not at all)"
        ]
        assert leftovers(tmp_path) == []
    else:
        assert status == -signum, err
    if (tmp_path / "out").exists() or fault != "between the two renames":
        assert contents(tmp_path / "out") == previous_build  # never half a build

    status, err = run_folder_script(COMMAND, tmp_path)
    assert status == 0, err
    assert contents(tmp_path / "out") == reference
    assert leftovers(tmp_path) == []  # what the killed build left was recognised and removed
    assert (tmp_path / "notes" / "precious.txt").read_text() == "keep me"


def test_a_full_disk_is_one_line_and_the_previous_build_stays_whole(tmp_path, previous_build):
    status, err = run_folder_script(COMMAND, tmp_path, file_size_limit=4096)
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: cannot write out: File too large") and "out was left as it was" in err
    assert contents(tmp_path / "out") == previous_build
    assert leftovers(tmp_path) == [] and (tmp_path / "notes" / "precious.txt").read_text() == "keep me"


def test_the_script_refuses_an_output_folder_inside_its_source_before_reading(tmp_path):
    make_source(tmp_path)
    status, err = run_folder_script(["--source", "mine", "--out", "mine/built"], tmp_path)
    assert status == 2 and "overlaps the source folder" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "mine" / "built").exists()


def test_sigterm_from_outside_while_writing_exits_143_and_leaves_nothing(tmp_path):
    """The real command in its own interpreter, terminated by another process once it has started writing."""
    make_source(tmp_path)
    code = (
        "import os, signal, sys, runpy; from datasets import Dataset; original = Dataset.to_parquet\n"
        "def to_parquet(self, *a, **k):\n"
        "    result = original(self, *a, **k); print('WRITING', flush=True); signal.pause(); return result\n"
        "Dataset.to_parquet = to_parquet\n"
        f"sys.argv = ['folder.py', *{COMMAND!r}]; runpy.run_path({str(REPO / 'dataset_scripts' / 'folder.py')!r}, run_name='__main__')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "TQDM_DISABLE": "1"}
    with subprocess.Popen(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as build:
        assert build.stdout.readline().strip() == "WRITING"
        assert leftovers(tmp_path) != []  # the temporary folder is there, half written
        build.terminate()
        _, err = build.communicate(timeout=120)
    assert (
        build.returncode == 143
        and err.strip() == "interrupted: out was left as it was (builds are written whole or not at all)"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]
