"""The standard Hugging Face recipe against train.py, on the same built dataset, model, image size, batch and seed.

(a) standard: the transformers image-classification example's way: ``set_transform`` with torchvision
    ``RandomResizedCrop`` + flip + normalise (``--preprocess crop``: ``RandomCrop`` at native resolution, the
    same recipe's native-crop form) decoding every image at every step, evaluation by ``Resize`` + ``CenterCrop``
    (crop: ``CenterCrop``), a ``Trainer`` with its default settings (fp32, no DataLoader workers) and the
    project protocol's optimiser, learning rate and schedule, so only the pipeline and the precision differ;
(b) project: ``train.py --protocol deepart`` with the project's defaults for this machine (pre-resized images or
    the decoded-pixel cache, bf16 autocast where the CPU has it, channels_last, the chosen workers).

Both evaluate on the validation split every epoch, as the example does. For each preprocessing mode it prints and
saves the training images/s (the Trainer's ``train_samples_per_second``: training steps plus the per-epoch
validation), the ratio project/standard, the test metrics with 95% bootstrap intervals, the data pipeline's
images/s and the model's own training images/s (synthetic batch), so the bottleneck is visible.

    python benchmarks/peer_comparison.py                     # DeepArt sample, resnet18 at 224, 5 epochs
    python benchmarks/peer_comparison.py --modes resize --epochs 3

The machine's load average is recorded before and after: on a shared CPU, other jobs slow both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from transformers import Trainer, TrainingArguments

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from standard_recipe import StandardTransform, standard_transforms  # noqa: E402

import deepart_hf  # noqa: E402
import train  # noqa: E402
from deepart_hf.data.loading import load_splits  # noqa: E402
from deepart_hf.data.pixel_cache import default_cache_root  # noqa: E402
from deepart_hf.evaluation.intervals import metric_intervals  # noqa: E402
from deepart_hf.evaluation.predictions import read_predictions_csv  # noqa: E402
from deepart_hf.files import write_json  # noqa: E402
from deepart_hf.models import create_model  # noqa: E402
from deepart_hf.models.preprocessing import collate, processor_geometry  # noqa: E402
from deepart_hf.models.scores import log_odds_from_logits  # noqa: E402
from deepart_hf.training import trainer as trainer_module  # noqa: E402
from deepart_hf.training.protocols import get_protocol  # noqa: E402

PROTOCOL = "deepart"
HEADLINE = ("accuracy", "mean_accuracy", "auroc")


def pipeline_rate(dataset, batch_size: int, workers: int, limit: int) -> float:
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers, collate_fn=collate)
    seen, start = 0, time.perf_counter()
    for batch in loader:
        seen += len(batch["pixel_values"])
        if seen >= limit:
            break
    return seen / (time.perf_counter() - start)


def model_rate(model_name: str, size: int, batch_size: int, *, bf16: bool, steps: int = 4) -> float:
    """Training steps of the model alone on a synthetic batch (fp32, or bf16 autocast + channels_last)."""
    model, _ = create_model(model_name, from_scratch=True, image_size=size)
    if bf16:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    batch = {"pixel_values": torch.randn(batch_size, 3, size, size), "labels": torch.randint(0, 2, (batch_size,))}

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch_size / (time.perf_counter() - start)


def with_intervals(labels, log_odds) -> dict:
    intervals = metric_intervals(np.asarray(labels), np.asarray(log_odds), n_resamples=1000)
    return {name: intervals[name] for name in HEADLINE} | {"n": intervals["n"]}


def run_standard(dataset: str, mode: str, args, out: Path) -> dict:
    splits = load_splits(dataset)
    model, processor = create_model(args.model, from_scratch=True, image_size=args.image_size)
    size, mean, std = processor_geometry(processor)
    train_tf, eval_tf = standard_transforms(mode, size, list(mean), list(std))
    train_split, validation, test = splits["train"], splits["validation"], splits["test"]
    train_split.set_transform(StandardTransform(train_tf))
    for split in (validation, test):
        split.set_transform(StandardTransform(eval_tf))
    recipe = get_protocol(PROTOCOL).overrides()
    training = TrainingArguments(
        output_dir=str(out), num_train_epochs=args.epochs, per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.batch_size, seed=args.seed, learning_rate=recipe["learning_rate"],
        optim=recipe["optim"], optim_args=recipe["optim_args"], weight_decay=recipe["weight_decay"],
        lr_scheduler_type=recipe["lr_scheduler_type"], eval_strategy="epoch", save_strategy="no",
        remove_unused_columns=False, report_to="none", disable_tqdm=True,
    )  # fmt: skip
    trainer = Trainer(
        model=model, args=training, train_dataset=train_split, eval_dataset=validation, data_collator=collate
    )
    start = time.perf_counter()
    metrics = trainer.train().metrics
    wall = time.perf_counter() - start
    output = trainer.predict(test)
    return {
        "train_images_per_s": round(metrics["train_samples_per_second"], 2),
        "train_runtime_s": round(metrics["train_runtime"], 1),
        "wall_s": round(wall, 1),
        "pipeline_images_per_s": round(
            pipeline_rate(train_split, args.batch_size, training.dataloader_num_workers, args.pipeline_images), 1
        ),
        "dataloader_num_workers": training.dataloader_num_workers,
        "precision": "fp32",
        "test": with_intervals(output.label_ids, log_odds_from_logits(np.asarray(output.predictions))),
    }


def run_project(dataset: str, mode: str, args, out: Path) -> dict:
    recorded = []
    original = trainer_module.DetectorTrainer.train

    def timed(self, *a, **k):  # the Trainer's own figures for the training loop, as for the standard recipe
        output = original(self, *a, **k)
        recorded.append((output.metrics, self.args.dataloader_num_workers, self.args.bf16, self.train_dataset))
        return output

    argv = ["--dataset", dataset, "--protocol", PROTOCOL, "--model", args.model, "--from_scratch", "--preprocess", mode,
            "--image_size", str(args.image_size), "--num_train_epochs", str(args.epochs), "--per_device_train_batch_size",
            str(args.batch_size), "--seed", str(args.seed), "--robustness", "none", "--n_resamples", "200", "--output_dir", str(out),
            "--disable_tqdm", "true"]  # fmt: skip
    if mode == "crop":
        argv += ["--eval_crops", str(args.eval_crops)]
    trainer_module.DetectorTrainer.train = timed
    try:
        start = time.perf_counter()
        assert train.main(argv) == 0
        wall = time.perf_counter() - start
    finally:
        trainer_module.DetectorTrainer.train = original
    metrics, workers, bf16, train_split = recorded[-1]
    predictions = read_predictions_csv(out / "predictions.csv")
    labels = predictions["label"]
    return {
        "train_images_per_s": round(metrics["train_samples_per_second"], 2),
        "train_runtime_s": round(metrics["train_runtime"], 1),
        "wall_s": round(wall, 1),
        "pipeline_images_per_s": round(pipeline_rate(train_split, args.batch_size, workers, args.pipeline_images), 1),
        "dataloader_num_workers": workers,
        "precision": "bf16 autocast, channels_last" if bf16 else "fp32",
        "test": with_intervals(labels, predictions["log_odds_ai"]),
    }


def pixel_caches(before: set[Path], remove: bool) -> list[dict]:
    """The pixel caches this run built, described; removed when they belong to its temporary dataset."""
    found = []
    for folder in sorted(set(default_cache_root().glob("*")) - before):
        meta = json.loads((folder / "index.json").read_text())
        found.append(
            {"images": len(meta["images"]), "mib": round(meta["nbytes"] / 2**20, 1), "build_s": meta["build_seconds"]}
        )
        if remove:
            shutil.rmtree(folder)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dataset", help="a built dataset folder (default: the DeepArt sample, built with --split_ratio)"
    )
    parser.add_argument("--sample", type=Path, default=HERE.parent.parent / "shared" / "data" / "deepart")
    parser.add_argument(
        "--split_ratio", default="4:1:5", help="train:validation:test of the sample build (80 images: 32/8/40)"
    )
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--image_size", type=int, default=224)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--epochs", type=float, default=5)
    parser.add_argument("--eval_crops", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--modes", default="resize,crop")
    parser.add_argument("--pipeline_images", type=int, default=32, help="images drawn to time each data pipeline")
    args = parser.parse_args()

    load_before = os.getloadavg()
    caches_before = set(default_cache_root().glob("*"))
    results = {"modes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        dataset = args.dataset
        if dataset is None:
            dataset = str(Path(tmp) / "deepart")
            deepart_hf.publish(deepart_hf.build("deepart", args.sample, split_ratio=args.split_ratio), dataset)
        sizes = {name: len(split) for name, split in load_splits(dataset).items()}
        for mode in args.modes.split(","):
            standard = run_standard(dataset, mode, args, Path(tmp) / f"standard-{mode}")
            project = run_project(dataset, mode, args, Path(tmp) / f"project-{mode}")
            ratio = project["train_images_per_s"] / standard["train_images_per_s"]
            results["modes"][mode] = {"standard": standard, "project": project, "speedup": round(ratio, 2)}
            print(
                f"{mode}: standard {standard['train_images_per_s']} images/s, project {project['train_images_per_s']} images/s, "
                f"{ratio:.2f}x; test mean accuracy {standard['test']['mean_accuracy']['value']:.3f} vs {project['test']['mean_accuracy']['value']:.3f}"
            )
    if {"resize", "crop"} <= set(results["modes"]):
        resize, crop = (results["modes"][m]["project"]["train_runtime_s"] for m in ("resize", "crop"))
        results["project_crop_over_resize_train_time"] = round(crop / resize, 2)
    results["model_only_train_images_per_s"] = {
        "fp32": round(model_rate(args.model, args.image_size, args.batch_size, bf16=False), 1),
        "bf16_channels_last": round(model_rate(args.model, args.image_size, args.batch_size, bf16=True), 1),
    }
    figures = {
        "dataset": args.dataset or f"DeepArt sample ({args.sample}), split {args.split_ratio}",
        "split_sizes": sizes,
        "protocol": PROTOCOL,
        "model": args.model,
        "image_size": args.image_size,
        "batch_size": args.batch_size,
        "epochs": args.epochs,
        "eval_crops": args.eval_crops,
        "seed": args.seed,
        "pixel_caches": pixel_caches(caches_before, remove=args.dataset is None),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        **results,
    }
    print(json.dumps(figures, indent=2))
    out = HERE / "results" / "peer_comparison.json"
    write_json(out, figures)
    print(f"saved {out}")


if __name__ == "__main__":
    main()
