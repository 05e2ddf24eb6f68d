"""Every command the documentation shows runs as written (tests/documented.py finds them: README.md,
benchmarks/README.md, every ``--help`` description), on the DeepArt sample, in one temporary folder laid out like
a clone with the samples beside it (``../shared/data``), at a tiny budget. Marked ``docs_run``, in the real-data
tier (CI requires it; without the samples it skips, naming the folder).

How a command is run, in three visible tables:

- ``INPUTS``: what stands at each input path the documentation names (``DeepArt``, ``painting.png``, ``scans/``,
  ``COMP576-project/dataset`` ...): the DeepArt sample, files or small folders made from it, or another sample
  for a layout DeepArt cannot have (the genre study's, D-ANI's).
- ``PLACEHOLDERS``: the reader's own names (``RUN``, ``OUT``, ``DATA`` ...) replaced by a folder an earlier
  documented command writes.
- ``BUDGET``: flags appended so each command runs in seconds (argparse and HfArgumentParser take a flag's last
  occurrence); each is a flag its command has, since the command's parser refuses any other and the run fails.

Dataset builds run first (later commands read their folders), then the rest in the documentation's order; a
command shown again as written, or differing only in an output nothing reads, runs once. Each must exit 0 and leave its documented output; a command that needs
the network (a Hub id, ``--push_to_hub``, weights that download) must fail offline in its one expected line,
without a traceback. ``NOT_RUN`` and ``PARSE_ONLY`` (benchmarks that train several models) list, with the reason, what is parsed
(tests/test_docs.py) but not run here.
Commands run in-process (``deepart_hf.cli.main``, ``train.main``, a script's ``__main__``) where they can, so torch
loads once; ``accelerate launch`` and ``bash`` run as subprocesses.
"""

from __future__ import annotations

import os
import re
import runpy
import shlex
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from documented import ALL, Documented

from helpers import REPO

pytestmark = pytest.mark.docs_run

# Not run here, with why (each is parsed by tests/test_docs.py, or is the suite itself).
NOT_RUN = {
    "pip ": "installs packages (the environment is already installed)",
    "git clone": "the network; the clone's folder is the DeepArt sample (INPUTS)",
    "bash scripts/test.sh": "the test suite itself, which runs this test",
    "python app.py": "the Gradio app inside a run folder: serves until stopped (the demo command builds the same app)",
    "python scripts/demo_screenshot.py": "drives Chromium; tests/inference/test_demo_browser.py runs it",
}

# input path as documented -> what stands there (``make_workspace`` puts it there)
INPUTS = {
    "DeepArt": "the DeepArt sample (what `git clone .../DeepArt` leaves)",
    "path/to/DeepArt": "the DeepArt sample",
    "../shared/data/deepart": "the DeepArt sample",
    "../shared/data/art-game-half": "6 images of each generator of the art-game sample and 12 human ones",
    "COMP576-project/dataset": "the genre-study sample",
    "DANI": "the D-ANI layout sample",
    "ComputerVision_540/data/final_output_data": "DeepArt's images as artificial/ and human/",
    "mine": "DeepArt's images as real/ and fake/",
    "MIE1517/unseen": "DeepArt's images as unseen_AI_images.zip and unseen_Human_images.zip",
    "train.zip": "DeepArt's images as diffusiondb/ and wikiart/ in a zip",
    "poems.csv": "a PaintingID,PoemText row for each of DeepArt's paintings",
    "painting.png": "one DeepArt image",
    "scans/": "two DeepArt images",
    "inbox/": "a DeepArt image in a subfolder: inbox/a/b.jpg",
    "batch.zip": "two DeepArt images in a zip",
    "photos/": "two DeepArt images",
    "known-human/": "DeepArt's human images",
    "known-ai/": "DeepArt's AI images",
    "resnet18-imagenet.pth": "a timm resnet18 state dict (random weights, saved by torch.save)",
}

# placeholder word -> the folder an earlier documented command writes
PLACEHOLDERS = {
    "RUN": "outputs/deepart-probe",
    "RUN_OR_ORG/NAME": "outputs/deepart-probe",
    "outputs/RUN": "outputs/deepart-probe",
    "outputs/run": "outputs/deepart-probe",
    "--model M": "outputs/deepart-probe",
    "M2": "outputs/deepart-probe-mine",
    "RUN-mine": "outputs/deepart-probe-mine",
    "reports/RUN-on-OTHER": "reports/deepart-probe-on-genres",
    "--human DIR": "known-human/",
    "--ai DIR": "known-ai/",
    "DATA": "data/art-game",
    "DATASET": "data/deepart",
    "DIR_OR_ID": "data/deepart",
    "--dataset_config C": "default",
    "data/OTHER": "data/genres",
    "data/other": "data/genres",
    "data/deepart-sample": "data/deepart",
}
# OUT is a fresh folder per command, except where the next command reads what the previous one wrote
OUTPUT_PLACEHOLDER = "OUT"

# Flags appended to run at a tiny budget. Training flags go to every command that trains.
TRAINING = [
    "--max_steps", "1",
    "--image_size", "32",
    "--per_device_train_batch_size", "4",
    "--per_device_eval_batch_size", "8",
    "--dataloader_num_workers", "0",
    "--max_eval_samples", "8",
    "--robustness", "none",
    "--n_resamples", "50",
    "--synthetic_n_per_class", "8",
    "--synthetic_image_size", "32",
]  # fmt: skip
BUDGET = {  # program -> flags
    "train": TRAINING,
    "few-shot": [*TRAINING, "--shots", "1", "--seeds", "1", "--pixels", "16"],
    # every fold trains resnet18, whose ImageNet weights would download: the folds' path runs on random weights
    "cross-eval": [*TRAINING, "--from_scratch"],
    "baselines": ["--pixels", "16", "--test_split", "validation", "--workers", "1"],
    "fidelity": ["--splits", "train,validation", "--bootstrap", "50", "--workers", "1"],
    "evaluate": ["--robustness", "none", "--n_resamples", "50"],
    "synthetic": ["--n_per_class", "8", "--image_size", "32"],
    "dani": ["--max_per_generator", "4"],
}
RESULTS = "benchmark-results"  # every benchmark that runs here writes its JSON there, not to benchmarks/results
BENCHMARKS = {  # benchmark -> its tiny budget, its output redirected
    "cli_help": ["--repeats", "1", "--output", f"{RESULTS}/cli_help.json"],
    "familiarity_cost": ["--stored", "64", "--queries", "8", "--output", f"{RESULTS}/familiarity_cost.json"],
    "predict_speed": ["--images", "4", "--batch_size", "2", "--output", f"{RESULTS}/predict_speed.json"],
    "train_throughput": [
        "--sample", "../shared/data/deepart", "--image_size", "32", "--batch_size", "2", "--batches", "1",
        "--workers", "0",
        "--output", f"{RESULTS}/train_throughput.json",
    ],
}  # fmt: skip
BUDGET.update(BENCHMARKS)
# A two-view probe's native view must be larger than its 224-pixel resized one: the smallest budget it accepts
TWO_VIEW_IMAGE_SIZE = "240"


def budget_for(argv: list[str]) -> list[str]:
    budget = list(BUDGET.get(program(argv), []))
    views = argv[argv.index("--probe_views") + 1] if "--probe_views" in argv[:-1] else ""
    if "resize" in views and "native" in views and "--image_size" in budget:
        budget[budget.index("--image_size") + 1] = TWO_VIEW_IMAGE_SIZE
    return budget


# Documented benchmarks that only parse here (tests/test_docs.py), with why: each trains several models or times
# a full-size workload, minutes even at its smallest flags.
PARSE_ONLY = {
    "generalisation": "trains each recipe on each of three sources and tests it on every source",
    "familiarity": "trains a detector per source and per held-out generator",
    "pretrained_protocols": "trains each protocol's pretrained recipe at 224 px",
    "calibration_sample_size": "trains a detector, then thousands of calibration draws",
    "leave_one_out": "trains one detector per held-out source",
    "probe_leave_one_out": "trains three backbones x two heads per held-out source",
    "leave_one_generator_out": "trains a detector per held-out generator of the full art-game half",
    "probe_views_tuning": "two-view features of the full art-game half (500 images at 512 and 224 px), then a grid",
    "recipe_leave_one_out": "trains eight detectors on four sources, the art-game half among them, per recipe",
    "generator_features": "features of the full art-game half (500 images at 224 px) per backbone",
    "peer_comparison": "trains resnet18 twice at 224 px, 5 epochs",
    "probe_speed": "trains the probe the old and the new way, back to back",
    "probe_head": "trains the probe at two epoch counts",
    "source_balance": "trains the DeepArt protocol per seed",
    "fixed_cost": "times three training runs, each in its own process",
    "cpu_speedups": "times torch.compile, which compiles for minutes",
    "build_speed": "builds 602 images (30 s at its smallest)",
    "dani_build_scale": "builds D-ANI layouts of 5 000 and 50 000 files (3 min at its smallest)",
    "decode_speed": "decodes the sample's 80 full-size images in each of several ways (90 s)",
    "gpu_throughput": "needs a GPU; its CPU dry run (--device cpu --quick) takes over a minute",
    "report_speed": "builds the sample, then times a trained detector's report (45 s at its smallest)",
    "fidelity_speed": "times the fidelity features of the sample with 1 and 2 workers, then extrapolates",
}


# A command that needs the network must fail offline in one line: command text (a part of it) -> that line.
WEIGHTS = r"error: cannot download pretrained weights for '{}': the Hugging Face Hub is unreachable \(offline\)"
OFFLINE = {
    "--model ORG/detector": r"error: cannot download the model for 'ORG/detector': the Hugging Face Hub is unreachable",
    "--dataset Renyang/DANI": WEIGHTS.format("resnet18"),  # the default model's weights are fetched first
    "python train.py --dataset data/dani --streaming": WEIGHTS.format("resnet18"),
    "python train.py --task attribution --dataset data/dani": WEIGHTS.format("resnet18"),
    "python train.py --dataset DATASET": WEIGHTS.format("resnet18"),
    "--shots 1,2,5,10,20,all": WEIGHTS.format("resnet18"),
    "--model clip-vit-l14-linear": WEIGHTS.format("clip-vit-l14-linear"),
    "--protocol deepart --model resnet50": WEIGHTS.format("resnet50"),
    "--model vit-base": WEIGHTS.format("vit-base"),
    "--cross_source_report loo/cross_source.json": WEIGHTS.format("resnet18"),
    "--push_to_hub ORG/deepart": r"error: push to ORG/deepart failed \(OfflineModeIsEnabled: .*\); the local copy is complete",
}


@dataclass
class Step:
    """A documented command as it runs here: placeholders replaced, the budget appended."""

    command: Documented
    argv: list[str]  # as written, placeholders replaced
    budget: list[str]
    outputs: list[str]  # what it must leave behind
    also: list[Documented] = field(default_factory=list)  # shown elsewhere too, differing only in where it writes

    @property
    def where(self) -> str:
        return f"{self.command.where}: {self.command.text}"


def program(argv: list[str]) -> str:
    """The name its budget is kept under: a deepart-hf subcommand, ``train``, a dataset script's or benchmark's
    stem."""
    if argv[:2] == ["accelerate", "launch"]:
        argv = ["python", *argv[2:]]
    if argv[:3] == ["python", "-m", "deepart_hf"]:
        argv = ["deepart-hf", *argv[3:]]
    if argv[0] == "deepart-hf":
        return argv[2] if argv[1] == "build" else argv[1]
    if argv[:2] == ["bash", "scripts/main.sh"]:  # passes its flags on to train.py
        return "train"
    if argv[0] == "python" and argv[1].endswith(".py"):
        return Path(argv[1]).stem
    return argv[0]


OUTPUT_FLAGS = ("--out", "--output_dir", "--output", "--out_dir")


def substituted(words: list[str], last_out: str | None, fresh_out: str) -> tuple[list[str], str | None]:
    """The words with ``PLACEHOLDERS`` replaced (a key ``--flag WORD`` only after that flag); ``OUT`` is a fresh
    folder where a command writes it and the last one written where a command reads it."""
    argv = []
    for flag, word in zip([None, *words], words):
        if word == OUTPUT_PLACEHOLDER:
            if flag in OUTPUT_FLAGS or last_out is None:
                last_out = fresh_out
            word = last_out
        word = PLACEHOLDERS.get(f"{flag} {word}", PLACEHOLDERS.get(word, word))
        argv.append("1" if re.fullmatch(r"[A-Z]", word) else word)  # --seed S, --steps N
    return argv, last_out


def but_where_it_writes(argv: list[str]) -> tuple[str, ...]:
    return tuple("OUT" if flag in OUTPUT_FLAGS else word for flag, word in zip([None, *argv], argv))


def read_by_a_command() -> set[str]:
    """Every path a documented command reads (its words but those naming where it writes)."""
    return {
        PLACEHOLDERS.get(part, part)
        for command in ALL
        for flag, word in zip([None, *command.words], command.words)
        if flag not in OUTPUT_FLAGS
        for part in word.split(",")
    }


def steps() -> list[Step]:
    prepared, seen, last_out = [], {}, None
    documented = [c for c in ALL if not c.text.startswith(tuple(NOT_RUN)) and program(c.argv) not in PARSE_ONLY]
    builds = [c for c in documented if program(c.argv) in BUILD_SOURCES or c.argv[:2] == ["deepart-hf", "build"]]
    for command in builds + [c for c in documented if c not in builds]:
        argv, last_out = substituted(command.words, last_out, f"out/{len(prepared)}")
        # a command that differs from an earlier one only in where it writes runs once; what it wrote is that
        # command's output
        same = but_where_it_writes(argv)
        writes = {word for flag, word in zip(argv, argv[1:]) if flag in OUTPUT_FLAGS}
        if same in seen and (seen[same].argv == argv or not READ & writes):
            earlier = seen[same]
            earlier.also.append(command)
            if last_out in argv:
                last_out = earlier.argv[argv.index(last_out)]
            continue
        budget = budget_for(argv)
        written = [*argv, *budget]
        outputs = [word for flag, word in zip(written, written[1:]) if flag in OUTPUT_FLAGS]
        seen[same] = Step(command, argv, budget, outputs)
        prepared.append(seen[same])
    return prepared


BUILD_SOURCES = ("deepart", "dalle_paintings", "genres", "folder", "synthetic", "dani")
READ = read_by_a_command()
STEPS = steps()


def link_files(files: list[Path], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for path in files:
        (folder / path.name).symlink_to(path)


def zip_files(files: list[Path], archive: Path, inside: str = "") -> None:
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in files:
            bundle.write(path, f"{inside}{path.name}")


def make_workspace(root: Path, sample: Path) -> Path:
    """A clone's folder with ``../shared/data`` beside it, and every path in ``INPUTS``."""
    from helpers import TEST_DATA

    clone = root / "clone"
    clone.mkdir()
    for name in ("train.py", "dataset_scripts", "benchmarks", "scripts"):
        (clone / name).symlink_to(REPO / name)
    shared = root / "shared" / "data"
    shared.mkdir(parents=True)
    (shared / "deepart").symlink_to(sample)
    ai_game = sorted((TEST_DATA / "art-game-half" / "ai").iterdir())
    for generator in ("dalle", "midjourney", "stable_diffusion"):
        link_files([p for p in ai_game if p.name.startswith(f"{generator}-")][:6], shared / "art-game-half" / "ai")
    link_files(sorted((TEST_DATA / "art-game-half" / "human").iterdir())[:12], shared / "art-game-half" / "human")
    human, ai = sorted((sample / "Human").iterdir()), sorted((sample / "Aigc").iterdir())
    for name in ("DeepArt", "path/to/DeepArt"):
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        (clone / name).symlink_to(sample)
    (clone / "COMP576-project").mkdir()
    (clone / "COMP576-project" / "dataset").symlink_to(TEST_DATA / "genres-sample")
    (clone / "DANI").symlink_to(TEST_DATA / "dani-layout-sample")
    dalle = clone / "ComputerVision_540" / "data" / "final_output_data"
    link_files(ai, dalle / "artificial")
    link_files(human, dalle / "human")
    link_files(human, clone / "mine" / "real")
    link_files(ai, clone / "mine" / "fake")
    zip_files(ai, clone / "MIE1517" / "unseen" / "unseen_AI_images.zip")
    zip_files(human, clone / "MIE1517" / "unseen" / "unseen_Human_images.zip")
    zip_files(ai, clone / "train.zip", "diffusiondb/")
    with zipfile.ZipFile(clone / "train.zip", "a") as bundle:
        for path in human:
            bundle.write(path, f"wikiart/{path.name}")
    paintings = sorted({path.stem for path in human})
    (clone / "poems.csv").write_text(
        "PaintingID,PoemText\n" + "".join(f"{name},poem of {name}\n" for name in paintings), encoding="utf-8"
    )
    shutil.copy(ai[0], clone / "painting.png")
    link_files(ai[:2], clone / "scans")
    link_files(ai[:2], clone / "photos")
    link_files(ai[2:3], clone / "inbox" / "a")
    zip_files(human[:2], clone / "batch.zip")
    link_files(human, clone / "known-human")
    link_files(ai, clone / "known-ai")
    import timm
    import torch

    torch.save(timm.create_model("resnet18", pretrained=False).state_dict(), clone / "resnet18-imagenet.pth")
    missing = [name for name in INPUTS if not (clone / name).exists()]
    assert not missing, f"INPUTS without their stand-in: {missing}"
    return clone


@pytest.fixture(scope="module")
def workspace(deepart_sample, tmp_path_factory) -> Path:
    return make_workspace(tmp_path_factory.mktemp("docs-run"), deepart_sample)


def run_in_process(argv: list[str]) -> int:
    """One command in this process; its exit status."""
    if argv[:3] == ["python", "-m", "deepart_hf"]:
        argv = ["deepart-hf", *argv[3:]]
    try:
        if argv[0] == "deepart-hf":
            from deepart_hf.cli import main

            return main(argv[1:])
        if argv[:2] == ["python", "-c"]:
            exec(compile(argv[2], "<python -c>", "exec"), {"__name__": "__main__"})
            return 0
        if argv[:2] == ["python", "train.py"]:
            import train

            return train.main(argv[2:])
        if argv[0] == "python" and argv[1].startswith("dataset_scripts/"):
            from deepart_hf.data.build_command import run_dataset_script

            return run_dataset_script(Path(argv[1]).stem, argv[2:])
        if argv[0] == "python" and argv[1].startswith(("benchmarks/", "scripts/")):
            path = REPO / argv[1]
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(sys, "argv", [str(path), *argv[2:]])
                patch.syspath_prepend(str(path.parent))
                runpy.run_path(str(path), run_name="__main__")
            return 0
    except SystemExit as exit:
        return exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    raise AssertionError(f"no way to run {shlex.join(argv)} in-process")


def run_subprocess(argv: list[str], cwd: Path) -> tuple[int, str]:
    if argv[:2] == ["accelerate", "launch"]:  # the launcher of this environment, which starts its python
        argv = [sys.executable, "-m", "accelerate.commands.launch", *argv[2:]]
    bin_folder = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_folder}{os.pathsep}{os.environ['PATH']}", "VENV": str(bin_folder.parent)}
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    return done.returncode, done.stdout + done.stderr


SUBPROCESS = ("accelerate", "bash")


@pytest.mark.parametrize("step", STEPS, ids=lambda s: f"{s.command.where}: {shlex.join(s.argv)[:90]}")
def test_a_documented_command_runs_as_written(step, workspace, capfd, monkeypatch):
    import gradio

    monkeypatch.chdir(workspace)
    launched = []
    monkeypatch.setattr(gradio.Blocks, "launch", lambda self, **kwargs: launched.append(kwargs))
    offline = next((line for part, line in OFFLINE.items() if part in step.command.text), None)
    for output in step.outputs:  # a reader runs each command once: an earlier command's output is not there
        shutil.rmtree(output, ignore_errors=True) if Path(output).is_dir() else Path(output).unlink(missing_ok=True)
    argv = [*step.argv, *step.budget]
    if argv[0] in SUBPROCESS:
        status, output = run_subprocess(argv, workspace)
    else:
        status = run_in_process(argv)
        captured = capfd.readouterr()
        output = captured.out + captured.err
    report = f"{step.where}\nran: {shlex.join(argv)}\nexit {status}; output ends:\n{output[-3000:]}"
    if offline is not None:
        # accelerate launch reports its child's failure with a traceback of its own (CalledProcessError)
        launcher = int(step.argv[0] == "accelerate" and "CalledProcessError" in output)
        assert status != 0 and output.count("Traceback") == launcher and re.search(offline, output), report
        return
    assert status == 0, report
    missing = [path for path in step.outputs if not Path(path).exists()]
    assert not missing, f"{report}\ndid not write {missing}"
    if step.argv[:2] == ["deepart-hf", "demo"]:
        assert len(launched) == 1, report


def test_every_documented_command_runs_here_or_says_why_not():
    benchmarks = {
        program(c.argv) for c in ALL if c.argv[:2] != ["python", "-c"] and c.argv[1].startswith("benchmarks/")
    }
    assert benchmarks <= BENCHMARKS.keys() | PARSE_ONLY.keys(), "a documented benchmark neither runs nor says why"
    assert not BENCHMARKS.keys() & PARSE_ONLY.keys()
    ran = {id(command) for step in STEPS for command in [step.command, *step.also]}
    for command in ALL:
        skipped = command.text.startswith(tuple(NOT_RUN)) or program(command.argv) in PARSE_ONLY
        assert skipped or id(command) in ran, command
    assert all(any(part in c.text for c in ALL) for part in OFFLINE), "an OFFLINE entry names no documented command"
    assert all(any(word in c.words for c in ALL) for word in INPUTS), "an INPUTS entry names no documented path"


def test_every_benchmark_that_runs_here_writes_its_results_here():
    for name, budget in BENCHMARKS.items():
        written = [value for flag, value in zip(budget, budget[1:]) if flag in OUTPUT_FLAGS]
        assert len(written) == 1 and written[0].startswith(f"{RESULTS}/"), name
