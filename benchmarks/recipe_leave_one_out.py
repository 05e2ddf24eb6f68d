"""Recipes left out of one offline source at a time, each trained by ``deepart-hf cross-eval`` as a user runs it:
fine-tuning at the DeepArt protocol's budget against the linear probes it is compared with.

The four offline sources of ``benchmarks/probe_leave_one_out.py`` (the DeepArt sample, the genre-study sample,
a synthetic set of 60 images per class, the art-game half), each split 5:1:4 as in ``benchmarks/generalisation.py``.
For each recipe:

    deepart-hf cross-eval --dataset deepart,genres,synthetic,art-game --leave_one_out --output_dir OUT/RECIPE \\
        [RECIPE's train.py flags]

trains one detector per left-out source on the other three sources' training splits and tests it on every source:
the left-out source's test split is the figure that counts (mean accuracy and AUROC with 95% bootstrap intervals,
``cross_source.json``). A recipe's time is the whole cross-eval call: four trainings, their test predictions, the
report.

    python benchmarks/recipe_leave_one_out.py                                  # every recipe
    python benchmarks/recipe_leave_one_out.py --recipes lite0-finetune         # one

Saves benchmarks/results/recipe_leave_one_out-<recipe>.json, one file per recipe.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch
from calibration_sample_size import machine
from generalisation import build_sources

from deepart_hf.cli import main as deepart_hf_cli
from deepart_hf.files import write_json

HERE = Path(__file__).resolve().parent
SOURCES = ["deepart", "genres", "synthetic", "art-game"]
COMMON = ["--dataloader_num_workers", "0", "--save_strategy", "no", "--robustness", "none"]
COMMON += ["--n_resamples", "1000", "--seed", "42"]
RECIPES = {  # name: (what it is, its train.py flags)
    "lite0-finetune": (
        "EfficientNet-Lite0 fine-tuned from ImageNet at the DeepArt protocol's budget (--protocol deepart: 224 px "
        "resized, 20 epochs, batch 8, SGD momentum 0.9, lr 1e-3, cosine)",
        ["--protocol", "deepart", "--model", "efficientnet-lite0"],
    ),
    "lite0-finetune-4epochs": (
        "the same fine-tuning for 4 of the protocol's 20 epochs (the cosine schedule over 4 epochs)",
        ["--protocol", "deepart", "--model", "efficientnet-lite0", "--num_train_epochs", "4"],
    ),
    "lite0-probe": (
        "EfficientNet-Lite0 linear probe under the same protocol (cached features)",
        ["--protocol", "deepart", "--model", "efficientnet-lite0-linear", "--image_size", "224"],
    ),
    "lite0-probe-3stages": (
        "the Lite0 probe on three stages' pooled features (--probe_stages 3) under the same protocol",
        ["--protocol", "deepart", "--model", "efficientnet-lite0-linear", "--image_size", "224", "--probe_stages", "3"],
    ),
    "lite1-probe": (
        "EfficientNet-Lite1 linear probe at its native 240 pixels under the same protocol",
        ["--protocol", "deepart", "--model", "efficientnet-lite1-linear", "--image_size", "240"],
    ),
    "lite2-probe": (
        "EfficientNet-Lite2 linear probe at its native 260 pixels under the same protocol",
        ["--protocol", "deepart", "--model", "efficientnet-lite2-linear", "--image_size", "260"],
    ),
    "lite2-probe-3stages": (
        "EfficientNet-Lite2 probe on three stages' pooled features under the same protocol (cached features)",
        ["--protocol", "deepart", "--model", "efficientnet-lite2-linear", "--image_size", "260", "--probe_stages", "3"],
    ),
}


def run_recipe(data: str, work: Path, name: str) -> dict:
    description, flags = RECIPES[name]
    out = work / name
    argv = ["cross-eval", "--dataset", data, "--leave_one_out", "--output_dir", str(out), *flags, *COMMON]
    load_before, started, cpu_started = os.getloadavg(), time.perf_counter(), time.process_time()
    assert deepart_hf_cli(argv) == 0, name
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    report = json.loads((out / "cross_source.json").read_text(encoding="utf-8"))
    shown = " ".join(flags + COMMON)
    return {
        "command": f"deepart-hf cross-eval --dataset {','.join(SOURCES)} --leave_one_out --output_dir OUT/{name} {shown}",
        "machine": machine() | {"torch_threads": torch.get_num_threads()},
        "recipe": name,
        "description": description,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu_seconds, 1),
        "load_average_before": load_before,
        "leave_one_out": report["leave_one_out"],
        "cells": report["cells"],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=list(RECIPES))
    parser.add_argument("--synthetic_per_class", type=int, default=60)
    parser.add_argument("--threads", type=int, help="torch's CPU threads (default: every core)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads or max(1, os.cpu_count() or 1))
    with tempfile.TemporaryDirectory(prefix="recipe-leave-one-out-") as tmp:
        work = Path(tmp)
        folders = build_sources(work, SOURCES, args.synthetic_per_class)
        data = ",".join(str(folders[name]) for name in SOURCES)
        for name in args.recipes:
            result = run_recipe(data, work, name)
            write_json(HERE / "results" / f"recipe_leave_one_out-{name}.json", result)
            print(name, f"{result['seconds'] / 60:.1f} min", json.dumps(result["leave_one_out"])[:400])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
