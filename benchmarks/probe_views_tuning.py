"""How many epochs, which learning rate and weight decay for the two-view probe: chosen on the validation split of
the generators each fold knows, never on the generator it leaves out.

The two-view probe (``--model efficientnet-lite0-linear --probe_views resize,native --image_size 512``) reads each
image's EfficientNet-Lite0 features twice: resized to 224, and at its own resolution (the art-game half's images are
512 pixels, so the native view is the whole image). Its head is a linear layer trained on those features computed
once, so a grid of head recipes costs one feature pass: this script reads every image's features through the
model's own processor and ``models.features.image_features`` (what its head reads), then for each leave-one-
generator-out fold (``research.generator_folds.fold_indices``, human split 6:1:3, seed 42, as
``deepart-hf cross-eval --leave_one_generator_out``) trains the head as the Trainer does (AdamW, cosine schedule
without warm-up, batch 32, seed 42; the Trainer's training images also come with their mirrors, these without)
for each recipe of the grid.

The recipe kept is the one with the lowest validation log-loss averaged over the three folds (the validation
split: 25 human images and 24 of the two known generators per fold); its AUROC on the held-out generator is
printed beside it, the others' are saved but play no part in the choice.

    python benchmarks/probe_views_tuning.py

Saves benchmarks/results/probe_views_tuning.json.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from calibration_sample_size import machine
from datasets import Image as HFImage
from generator_features import build_art_game_half
from sklearn.metrics import log_loss, roc_auc_score
from tqdm.auto import tqdm

from deepart_hf.data.images import decode_image
from deepart_hf.files import write_json
from deepart_hf.models.factory import create_model
from deepart_hf.models.features import image_features
from deepart_hf.research.generator_folds import fold_indices, pooled_generators

HERE = Path(__file__).resolve().parent
EPOCHS = (1, 3, 10, 30, 100)
LEARNING_RATES = (3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
WEIGHT_DECAYS = (0.0, 0.1)
BATCH = 32


def view_features(values: list[dict], batch: int = 8) -> np.ndarray:
    model, processor = create_model("efficientnet-lite0-linear", probe_views=("resize", "native"), image_size=512)
    model.eval()
    rows = []
    for start in tqdm(range(0, len(values), batch), desc="two-view features", unit="batch"):
        images = [decode_image(value) for value in values[start : start + batch]]
        rows.append(image_features(model, processor(images=images, return_tensors="pt")["pixel_values"]).numpy())
    return np.concatenate(rows)


def train_head(features: torch.Tensor, labels: torch.Tensor, epochs: int, lr: float, weight_decay: float):
    """A linear head as the Trainer trains it: AdamW (no decay on the bias), cosine to zero, shuffled batches."""
    torch.manual_seed(42)
    head = torch.nn.Linear(features.shape[1], 2)
    optimiser = torch.optim.AdamW(
        [{"params": [head.weight], "weight_decay": weight_decay}, {"params": [head.bias], "weight_decay": 0.0}], lr=lr
    )
    steps = epochs * math.ceil(len(labels) / BATCH)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: 0.5 * (1 + math.cos(math.pi * step / steps)))
    for _ in range(epochs):
        for batch in torch.randperm(len(labels)).split(BATCH):
            loss = F.cross_entropy(head(features[batch]), labels[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    return head


def scores(head, features: torch.Tensor, labels: np.ndarray) -> dict:
    with torch.no_grad():
        logits = head(features)
    prob_ai = logits.softmax(-1)[:, 1].numpy()
    return {"auroc": float(roc_auc_score(labels, prob_ai)), "log_loss": float(log_loss(labels, prob_ai, labels=[0, 1]))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(HERE / "results" / "probe_views_tuning.json"))
    parser.add_argument("--features", default=None, help="an .npy file to keep the features in (read when present)")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    started, load_before = time.perf_counter(), os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="probe-views-tuning-") as tmp:
        pooled, generators = pooled_generators(str(build_art_game_half(Path(tmp))), None)
        folds = fold_indices(pooled, generators, "6:1:3", seed=42)
        labels = np.array(pooled["label"])
        if args.features and Path(args.features).exists():
            features = np.load(args.features)
        else:
            features = view_features(pooled.cast_column("image", HFImage(decode=False))["image"])
            if args.features:
                np.save(args.features, features)
    feature_seconds = round(time.perf_counter() - started, 1)
    tensor = torch.from_numpy(features)
    grid = []
    for epochs, lr, weight_decay in itertools.product(EPOCHS, LEARNING_RATES, WEIGHT_DECAYS):
        by_fold = {}
        for held_out, fold in folds.items():
            head = train_head(tensor[fold["train"]], torch.from_numpy(labels[fold["train"]]), epochs, lr, weight_decay)
            by_fold[held_out] = {
                split: scores(head, tensor[fold[split]], labels[fold[split]]) for split in ("validation", "test")
            }
        grid.append({
            "epochs": epochs,
            "learning_rate": lr,
            "weight_decay": weight_decay,
            "folds": by_fold,
            "validation_log_loss": float(np.mean([f["validation"]["log_loss"] for f in by_fold.values()])),
            "validation_auroc": float(np.mean([f["validation"]["auroc"] for f in by_fold.values()])),
            "held_out_auroc": float(np.mean([f["test"]["auroc"] for f in by_fold.values()])),
        })  # fmt: skip
    chosen = min(grid, key=lambda row: row["validation_log_loss"])
    lines = [
        "| epochs | lr | weight decay | validation log-loss | validation AUROC |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in sorted(grid, key=lambda row: row["validation_log_loss"])[:10]:
        lines.append(
            f"| {row['epochs']} | {row['learning_rate']:g} | {row['weight_decay']:g} | "
            f"{row['validation_log_loss']:.3f} | {row['validation_auroc']:.3f} |"
        )
    table = "\n".join(lines)
    print(table)
    print(
        f"chosen by validation log-loss: {chosen['epochs']} epochs, lr {chosen['learning_rate']:g}, weight decay "
        f"{chosen['weight_decay']:g}; its held-out AUROC (not used to choose) {chosen['held_out_auroc']:.3f}"
    )
    elapsed = time.perf_counter() - started
    print(f"{elapsed / 60:.1f} min; load average before {load_before}, after {os.getloadavg()}")
    write_json(
        args.out,
        {
            "command": "python benchmarks/probe_views_tuning.py "
            + " ".join(argv if argv is not None else sys.argv[1:]),
            "machine": machine() | {"load_average_before": load_before, "load_average_after": os.getloadavg()},
            "seconds": round(elapsed, 1),
            "feature_seconds": feature_seconds,
            "chosen": chosen,
            "grid": grid,
            "table": table,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
