"""Images/s of the training data pipeline alone, of the model alone, and of full training steps.

Answers one question: on this machine, does the data pipeline keep up with the model? (Per-image
decode and resize costs are in benchmarks/decode_speed.py.) Measured on a built
dataset (by default the DeepArt sample, 1024-pixel PNGs and JPEGs, built into a temporary folder).

    python benchmarks/train_throughput.py --model resnet18 --preprocess resize --image_size 224
    python benchmarks/train_throughput.py --dataset deepart --preprocess crop --workers 0,1,2

Prints a table and saves JSON under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

import deepart_hf
from deepart_hf.data.loading import checked_split, load_splits
from deepart_hf.files import write_json
from deepart_hf.models import create_model
from deepart_hf.models.preprocessing import collate
from deepart_hf.training.augment import TrainTransform

HERE = Path(__file__).resolve().parent


def loader(split, workers: int, batch_size: int) -> DataLoader:
    return DataLoader(
        split,
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        collate_fn=collate,
        persistent_workers=False,
        drop_last=True,
    )


def pipeline_rate(split, workers: int, batch_size: int, batches: int) -> float:
    it = iter(loader(split, workers, batch_size))
    next(it)  # worker start-up is not throughput
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batches * batch_size / (time.perf_counter() - start)


def train_rate(model, optimizer, batches_source, batch_size: int, batches: int) -> float:
    model.train()
    it = iter(batches_source)
    step = lambda batch: (model(**batch).loss.backward(), optimizer.step(), optimizer.zero_grad())
    step(next(it))  # warm-up (allocations, kernels)
    start = time.perf_counter()
    for _ in range(batches):
        step(next(it))
    return batches * batch_size / (time.perf_counter() - start)


def repeat(batch):
    while True:
        yield batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", help="a built dataset folder (default: build the DeepArt sample)")
    parser.add_argument("--sample", type=Path, default=HERE.parent.parent / "shared" / "data" / "deepart")
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--preprocess", default="resize", choices=["resize", "crop"])
    parser.add_argument("--image_size", type=int, default=224)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--output", type=Path, help="default: results/train_throughput-MODEL-PREPROCESSSIZE.json")
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--workers", default="0,2", help="comma-separated DataLoader worker counts to compare")
    args = parser.parse_args()
    torch.manual_seed(0)

    with tempfile.TemporaryDirectory() as tmp:
        dataset = args.dataset
        if dataset is None:
            dataset = str(Path(tmp) / "deepart")
            deepart_hf.publish(deepart_hf.build("deepart", args.sample, split_ratio="1:0:0"), dataset)
        split = checked_split(load_splits(dataset), "train", dataset)
        model, processor = create_model(
            args.model, from_scratch=True, image_size=args.image_size, preprocess=args.preprocess
        )
        split.set_transform(TrainTransform(processor))  # on full-size images: pre_resize is measured in decode_speed.py
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

        results = {"pipeline_images_per_s": {}, "train_images_per_s": {}}
        for workers in (int(w) for w in args.workers.split(",")):
            results["pipeline_images_per_s"][workers] = round(
                pipeline_rate(split, workers, args.batch_size, args.batches), 1
            )
            results["train_images_per_s"][workers] = round(
                train_rate(model, optimizer, loader(split, workers, args.batch_size), args.batch_size, args.batches), 1
            )
        one_batch = next(iter(loader(split, 0, args.batch_size)))
        model_only = train_rate(model, optimizer, repeat(one_batch), args.batch_size, args.batches)

    figures = {
        "dataset": dataset if args.dataset else f"DeepArt sample ({args.sample})",
        "model": args.model,
        "preprocess": args.preprocess,
        "image_size": args.image_size,
        "batch_size": args.batch_size,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "model_only_train_images_per_s": round(model_only, 1),
        **results,
    }
    print(json.dumps(figures, indent=2))
    out = args.output or HERE / "results" / f"train_throughput-{args.model}-{args.preprocess}{args.image_size}.json"
    write_json(out, figures)
    print(f"saved {out}")


if __name__ == "__main__":
    main()
