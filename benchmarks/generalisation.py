"""Which recipe generalises: each detector trained from scratch on one source, tested on every source's test split.

Sources available offline: the DeepArt sample (../shared/data/deepart), the genre-study sample
(../shared/data/genres-sample, laid out as <genre>/{ai,human}/ in a temporary folder, ``mixed`` left out as it
repeats the other genres' files) and the synthetic set. Detectors: ResNet-18 on the whole image resized, ResNet-18
on native crops, SAFE and NPR (both with the ``safe`` protocol's optimiser and augmentation), all at one small
input size so the run fits a shared CPU. Every number is a mean accuracy or AUROC with its 95% interval
(``deepart_hf.evaluation.intervals.metric_intervals`` on the saved predictions.csv).

    python benchmarks/generalisation.py                       # ~15 CPU minutes on 2 cores
    python benchmarks/generalisation.py --epochs 2 --models safe --sources synthetic   # a quick look
    python benchmarks/generalisation.py --bf16 false          # training in fp32 even where the CPU has native bf16

Prints a table and saves JSON under benchmarks/results/. The sets are tiny (tens of test images): read the
intervals, not the point values.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import AutoConfig

import deepart_hf
from deepart_hf.evaluation.intervals import metric_intervals
from deepart_hf.evaluation.predictions import read_predictions_csv
from deepart_hf.files import write_json
from deepart_hf.models.calibration import Calibration
from deepart_hf.training.arguments import parse_arguments

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
GENRE_CLASSES = {"AI_generated": "ai", "hand_drawing": "human"}
SPLIT_RATIO = "5:1:4"  # train:validation:test; larger test splits than the paper's 1:1:8 on these small samples

# name -> train.py flags (each also gets --from_scratch, --image_size, epochs and batch size)
MODELS = {
    "resnet18-resize": [
        "--model",
        "resnet18",
        "--preprocess",
        "resize",
        "--optim",
        "adamw_torch",
        "--learning_rate",
        "1e-3",
    ],
    "resnet18-crop": [
        "--model",
        "resnet18",
        "--preprocess",
        "crop",
        "--optim",
        "adamw_torch",
        "--learning_rate",
        "1e-3",
    ],
    "safe": ["--protocol", "safe"],
    "npr": ["--protocol", "safe", "--model", "npr"],
}


def genre_layout(sample: Path, dest: Path) -> Path:
    """The genre sample's <genre>/{training,testing}_set/{AI_generated,hand_drawing}/ as <genre>/{ai,human}/."""
    for genre in sorted(p for p in sample.iterdir() if p.is_dir() and p.name != "mixed"):
        for split in ("training_set", "testing_set"):
            for folder, label in GENRE_CLASSES.items():
                target = dest / genre.name / label
                target.mkdir(parents=True, exist_ok=True)
                for image in sorted((genre / split / folder).iterdir()):
                    shutil.copy2(image, target / f"{split}-{image.name}")  # numbers restart in every folder
    return dest


def build_sources(work: Path, names: list[str], synthetic_per_class: int) -> dict[str, Path]:
    builders = {
        "deepart": lambda: deepart_hf.build("deepart", SHARED / "deepart", split_ratio=SPLIT_RATIO),
        "genres": lambda: deepart_hf.build(
            "genres", genre_layout(SHARED / "genres-sample", work / "genres-raw"), split_ratio=SPLIT_RATIO
        ),
        "synthetic": lambda: deepart_hf.build(
            "synthetic", n_per_class=synthetic_per_class, image_size=128, seed=0, split_ratio=SPLIT_RATIO
        ),
        # 250 human artworks of many styles and 250 DALL-E / Midjourney / Stable Diffusion images, all 512 x 512 JPEG
        "art-game": lambda: deepart_hf.build("folder", SHARED / "art-game-half", split_ratio=SPLIT_RATIO),
    }
    folders = {}
    for name in tqdm(names, desc="building sources"):
        folders[name] = work / "data" / name
        deepart_hf.publish(builders[name](), folders[name])
    return folders


def train_flags(model: str, args) -> list[str]:
    return [
        *MODELS[model],
        "--from_scratch",
        "--image_size",
        str(args.image_size),
        "--num_train_epochs",
        str(args.epochs),
        "--per_device_train_batch_size",
        str(args.batch_size),
        "--per_device_eval_batch_size",
        "32",
        "--dataloader_num_workers",
        "0",
        "--save_strategy",
        "no",
        "--seed",
        str(args.seed),
        "--robustness",
        "none",
        *(["--bf16", args.bf16] if args.bf16 else []),
    ]


def scores(run_dir: Path, model_dir: Path) -> dict:
    """Every figure at the decision the saved model carries (its calibrated threshold, or argmax)."""
    predictions = read_predictions_csv(run_dir / "predictions.csv")
    threshold = Calibration.from_config(AutoConfig.from_pretrained(model_dir)).threshold_log_odds
    intervals = metric_intervals(predictions["label"], predictions["log_odds_ai"], threshold_log_odds=threshold)
    keep = ("mean_accuracy", "auroc", "human_accuracy", "ai_accuracy")
    return {
        **{metric: intervals[metric] for metric in keep},
        "n": intervals["n"],
        "n_human": intervals["n_human"],
        "n_ai": intervals["n_ai"],
    }


def cell(metric: dict) -> str:
    if metric["value"] is None:
        return "n/a"
    return f"{metric['value']:.2f} [{metric['low']:.2f}, {metric['high']:.2f}]"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma list of {', '.join(MODELS)}")
    parser.add_argument("--sources", default="deepart,genres,synthetic")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--image_size", type=int, default=64)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--synthetic_per_class", type=int, default=60)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--bf16", choices=["true", "false"], help="train.py's --bf16 (default: train.py's own choice for this machine)"
    )
    parser.add_argument("--out", default=str(HERE / "results" / "generalisation.json"))
    args = parser.parse_args(argv)
    models, sources = args.models.split(","), args.sources.split(",")
    torch.set_num_threads(max(1, os.cpu_count() or 1))

    started = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory(prefix="generalisation-") as tmp:
        work = Path(tmp)
        folders = build_sources(work, sources, args.synthetic_per_class)
        jobs = [(model, source) for model in models for source in sources]
        for model, train_source in tqdm(jobs, desc="train + cross-evaluate"):
            run_dir = work / "runs" / f"{model}-{train_source}"
            begun = time.perf_counter()
            config = parse_arguments(
                ["--dataset", str(folders[train_source]), "--output_dir", str(run_dir), *train_flags(model, args)]
            )
            deepart_hf.train(config)
            row = {
                "model": model,
                "train": train_source,
                "train_seconds": round(time.perf_counter() - begun, 1),
                "test": {train_source: scores(run_dir, run_dir)},
            }
            for test_source in sources:
                if test_source == train_source:
                    continue
                eval_dir = work / "runs" / f"{model}-{train_source}-on-{test_source}"
                # the trained detector, evaluated as it is on another source's test split
                evaluation = config.with_changes(
                    model={"model_name_or_path": str(run_dir)},
                    data={"dataset": str(folders[test_source]), "preprocess": None, "image_size": None},
                    run={"eval_only": True},
                    training={"output_dir": str(eval_dir), "per_device_eval_batch_size": 32},
                )
                deepart_hf.train(evaluation)
                row["test"][test_source] = scores(eval_dir, run_dir)
            results.append(row)

    elapsed = time.perf_counter() - started
    header = "| model | trained on | " + " | ".join(f"{s}: mean acc. | {s}: AUROC" for s in sources) + " |"
    lines = [header, "|" + " --- |" * (2 + 2 * len(sources))]
    for row in results:
        cells = [c for s in sources for c in (cell(row["test"][s]["mean_accuracy"]), cell(row["test"][s]["auroc"]))]
        lines.append(f"| {row['model']} | {row['train']} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print(table)
    counts = {s: {k: results[0]["test"][s][k] for k in ("n", "n_human", "n_ai")} for s in sources} if results else {}
    print(f"test images per source: {counts}; {elapsed / 60:.1f} min")
    write_json(
        args.out,
        {
            "command": "python benchmarks/generalisation.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "settings": vars(args) | {"split_ratio": SPLIT_RATIO, "model_flags": MODELS},
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__},
            "seconds": round(elapsed, 1),
            "test_counts": counts,
            "results": results,
            "table": table,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
