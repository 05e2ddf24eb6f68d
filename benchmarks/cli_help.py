"""How long ``deepart-hf --help`` and each command's ``--help`` take: a fresh interpreter per call, as a person
typing the command meets it, median of 5. The goal is under 1.5 s each (nothing heavy imported before the
arguments are parsed). Also ``python train.py --help`` for comparison. Prints and saves JSON.

    python benchmarks/cli_help.py [--repeats 5] [--output benchmarks/results/cli_help.json]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from deepart_hf.cli import COMMANDS
from deepart_hf.files import write_json

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
GOAL_S = 1.5


def seconds(argv: list[str], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return times


def cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", type=Path, default=HERE / "results" / "cli_help.json")
    args = parser.parse_args()

    calls = {"deepart-hf --help": [sys.executable, "-m", "deepart_hf", "--help"]}
    calls |= {f"deepart-hf {name} --help": [sys.executable, "-m", "deepart_hf", name, "--help"] for name in COMMANDS}
    calls["python train.py --help"] = [sys.executable, "train.py", "--help"]
    baseline = [sys.executable, "-c", "pass"]

    load_before = round(os.getloadavg()[0], 2)
    results = {}
    for name, argv in {"python -c pass (interpreter start)": baseline, **calls}.items():
        times = seconds(argv, args.repeats)
        results[name] = {"median_s": round(statistics.median(times), 3), "runs_s": [round(t, 3) for t in times]}
        print(f"{name:<40} median {results[name]['median_s']:6.3f} s")
    commands = [v["median_s"] for k, v in results.items() if k.startswith("deepart-hf")]
    summary = {"goal_s": GOAL_S, "slowest_deepart_hf_help_s": max(commands), "all_under_goal": max(commands) < GOAL_S}
    print(f"slowest deepart-hf --help: {summary['slowest_deepart_hf_help_s']:.3f} s (goal < {GOAL_S} s)")
    write_json(
        args.output,
        {
            "results": results,
            "summary": summary,
            "setup": {"repeats": args.repeats, "how": "subprocess, fresh interpreter each run, wall clock"},
            "environment": {
                "python": platform.python_version(),
                "cpu": cpu_model(),
                "cpu_count": os.cpu_count(),
                "load_average_1min_before_after": [load_before, round(os.getloadavg()[0], 2)],
                "note": "shared machine: other jobs ran during the measurement",
            },
        },
    )
    print(f"Wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
