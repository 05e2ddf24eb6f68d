"""A general detector, measured as the README recommends it: leave-one-source-out figures, then the model trained
on every source with those figures in its card.

The three sources available offline (the DeepArt sample, the genre-study sample as <genre>/{ai,human}/ without its
duplicate ``mixed`` folder, a synthetic set), split 5:1:4 as in ``benchmarks/generalisation.py``. Then

    deepart-hf cross-eval --dataset deepart,genres,synthetic --leave_one_out --output_dir OUT/cross [flags]
    python train.py --dataset deepart,genres,synthetic [flags] --cross_source_report OUT/cross/cross_source.json

with flags: resnet10t from scratch on 64-pixel resized images.

    python benchmarks/leave_one_out.py               # ~10 CPU minutes on 2 cores
    python benchmarks/leave_one_out.py --epochs 1    # a quick look

Prints the card's leave-one-out table and saves it with cross_source.json's figures under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
from calibration_sample_size import machine
from generalisation import build_sources

from deepart_hf.cli import main as deepart_hf_cli
from deepart_hf.files import write_json
from deepart_hf.training.arguments import parse_arguments
from deepart_hf.training.run import train

HERE = Path(__file__).resolve().parent
SECTION = "## On a source it has not seen: leave one source out"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--image_size", type=int, default=64)
    parser.add_argument("--synthetic_per_class", type=int, default=60)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default=str(HERE / "results" / "leave_one_out.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    flags = ["--model", "resnet10t", "--from_scratch", "--image_size", str(args.image_size)]
    flags += ["--num_train_epochs", str(args.epochs), "--per_device_train_batch_size", "16"]
    flags += ["--per_device_eval_batch_size", "32", "--dataloader_num_workers", "0", "--save_strategy", "no"]
    flags += ["--seed", str(args.seed), "--robustness", "none", "--n_resamples", "1000"]
    started, load_before = time.perf_counter(), os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="leave-one-out-") as tmp:
        work = Path(tmp)
        folders = build_sources(work, ["deepart", "genres", "synthetic"], args.synthetic_per_class)
        datasets = ",".join(str(folder) for folder in folders.values())
        cross = work / "cross"
        assert (
            deepart_hf_cli(["cross-eval", "--dataset", datasets, "--leave_one_out", "--output_dir", str(cross), *flags])
            == 0
        )
        general = work / "general"
        report = cross / "cross_source.json"
        train(
            parse_arguments(
                ["--dataset", datasets, *flags, "--output_dir", str(general), "--cross_source_report", str(report)]
            )
        )
        card = (general / "README.md").read_text(encoding="utf-8")
        section = card[card.index(SECTION) :].split("\n## ", 1)[0].strip()
        cross_source = json.loads(report.read_text(encoding="utf-8"))
        own = json.loads((general / "metrics.json").read_text(encoding="utf-8"))
    elapsed = time.perf_counter() - started
    print(section)
    print(f"{elapsed / 60:.1f} min; load average before {load_before}, after {os.getloadavg()}")
    write_json(
        args.out,
        {
            "command": "python benchmarks/leave_one_out.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "train_flags": flags,
            "machine": machine() | {"load_average_before": load_before},
            "seconds": round(elapsed, 1),
            "card_section": section,
            "leave_one_out": cross_source["leave_one_out"],
            "cells": cross_source["cells"],
            "all_sources_model_test": own["test"],
            "all_sources_model_per_dataset": own.get("per_dataset"),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
