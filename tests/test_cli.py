"""The command line answers at once: ``deepart-hf --help`` and each command's ``--help`` import no torch,
transformers or datasets (checked in a fresh interpreter, not timed: benchmarks/cli_help.py times them)."""

import json
import os
import subprocess
import sys

import pytest

from deepart_hf.cli import COMMANDS

HEAVY = ("torch", "transformers", "datasets", "timm", "sklearn", "gradio", "onnxruntime")

# argparse exits after printing the help; the modules loaded by then are everything --help paid for
PROBE = """
import contextlib, io, json, sys
from deepart_hf.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        main(sys.argv[1:])
    except SystemExit:
        pass
print(json.dumps({"help": out.getvalue(), "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def help_of(*argv: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120, env={**os.environ}
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [["--help"], *([name, "--help"] for name in COMMANDS)], ids=lambda a: " ".join(a))
def test_help_imports_nothing_heavy(argv):
    shown = help_of(*argv)
    assert "usage: deepart-hf" in shown["help"]
    assert [name for name in HEAVY if name in shown["modules"]] == []


def test_the_top_level_help_lists_every_command():
    listed = help_of("--help")["help"]
    assert all(name in listed for name in COMMANDS)


def test_the_package_loads_its_names_when_used():
    script = "import sys, deepart_hf; assert 'torch' not in sys.modules; print(deepart_hf.load_detector.__module__)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "deepart_hf.inference.detector"
