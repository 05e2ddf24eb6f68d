"""Which frozen features recognise a generator they never saw? A quick look before the recipes are trained.

The art-game half (250 human artworks, 250 from DALL·E, Midjourney and Stable Diffusion, all 512×512 JPEG) is built
with its generator from the file names and cut into the same leave-one-generator-out folds as
``deepart-hf cross-eval --leave_one_generator_out`` (``research.generator_folds.fold_indices``: human split 6:1:3,
seed 42). Each image's features are read once, through ``deepart_hf.models.features.image_features`` (what a
probe's head reads):

- ``resize224``: EfficientNet-Lite0 ImageNet features of the image resized to 224 (``efficientnet-lite0-linear``);
- ``crops224``: the mean of the features of 5 native 224-pixel crops (centre and corners; no resizing);
- ``native512``: the whole 512-pixel image at its own resolution (the network pools any size);
- ``fidelity``: the 16 hand-made statistics of ``deepart-hf fidelity`` (spectrum, noise residual, texture, colour).

Then for each fold a standardised logistic regression (scikit-learn) is fitted on the fold's training and
validation images and scored on its test images (the held-out generator and the human test share). Combinations
concatenate standardised features. These figures are a guide to which recipe to train, not the recipes' figures:
those come from ``benchmarks/leave_one_generator_out.py``.

    python benchmarks/generator_features.py        # about 5 CPU minutes on 2 cores

Saves benchmarks/results/generator_features.json.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from calibration_sample_size import machine
from datasets import Image as HFImage
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

import deepart_hf
from deepart_hf.files import write_json
from deepart_hf.models.factory import create_model
from deepart_hf.models.features import image_features
from deepart_hf.research.fidelity import FEATURES, extract_features
from deepart_hf.research.generator_folds import fold_indices, pooled_generators

HERE = Path(__file__).resolve().parent
# where the tests look for the samples too ($DEEPART_HF_TEST_DATA, default ../shared/data beside the checkout)
ART_GAME_HALF = Path(os.environ.get("DEEPART_HF_TEST_DATA", HERE.parent.parent / "shared" / "data")) / "art-game-half"
PATTERNS = ["ai=(?P<generator>[^-]+)-img_", "human=(?P<collection>[^-]+)-(?P<style>[^-]+)-img_"]
VIEWS = {  # name: create_model keyword arguments of the Lite0 view
    "resize224": dict(image_size=224, preprocess="resize"),
    "crops224": dict(image_size=224, preprocess="crop", eval_crops=5),
    "native512": dict(image_size=512, preprocess="resize"),  # the images are 512 pixels: no resampling
}
COMBINATIONS = [
    ("resize224",),
    ("crops224",),
    ("native512",),
    ("fidelity",),
    ("resize224", "crops224"),
    ("resize224", "native512"),
    ("crops224", "fidelity"),
    ("native512", "fidelity"),
    ("resize224", "crops224", "fidelity"),
]


def build_art_game_half(work: Path) -> Path:
    folder = work / "art-game-half"
    deepart_hf.publish(
        deepart_hf.build("folder", ART_GAME_HALF, split_ratio="6:1:3", extra={"name_pattern": PATTERNS}), folder
    )
    return folder


def lite0_features(images: list[bytes], view: dict, batch: int = 16) -> np.ndarray:
    model, processor = create_model("efficientnet-lite0", **view)
    model.eval()
    rows = []
    for start in tqdm(range(0, len(images), batch), desc=f"Lite0 {view}", unit="batch"):
        pixels = [Image.open(io.BytesIO(data)).convert("RGB") for data in images[start : start + batch]]
        rows.append(image_features(model, processor(pixels, return_tensors="pt")["pixel_values"]).numpy())
    return np.concatenate(rows)


def fold_scores(features: np.ndarray, labels: np.ndarray, folds: dict) -> dict:
    scores = {}
    for held_out, fold in folds.items():
        fit_rows = fold["train"] + fold["validation"]
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=5000))
        model.fit(features[fit_rows], labels[fit_rows])
        test = fold["test"]
        log_odds = model.decision_function(features[test])
        scores[held_out] = {
            "auroc": float(roc_auc_score(labels[test], log_odds)),
            "mean_accuracy": float(balanced_accuracy_score(labels[test], log_odds >= 0)),
        }
    return scores


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(HERE / "results" / "generator_features.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    started, load_before = time.perf_counter(), os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="generator-features-") as tmp:
        pooled, generators = pooled_generators(str(build_art_game_half(Path(tmp))), None)
        folds = fold_indices(pooled, generators, "6:1:3", seed=42)
        labels = np.array(pooled["label"])
        raw = pooled.cast_column("image", HFImage(decode=False))["image"]
        features, seconds = {}, {}
        for name, view in VIEWS.items():
            begun = time.perf_counter()
            features[name] = lite0_features([value["bytes"] for value in raw], view)
            seconds[name] = round(time.perf_counter() - begun, 1)
        begun = time.perf_counter()
        extracted = extract_features(iter(raw), len(raw), workers=2, format_control=False)
        features["fidelity"] = np.array([[f.features["stored"][k] for k in FEATURES] for f in extracted])
        seconds["fidelity"] = round(time.perf_counter() - begun, 1)
    rows = []
    for combination in COMBINATIONS:
        scores = fold_scores(np.concatenate([features[n] for n in combination], axis=1), labels, folds)
        rows.append({
            "features": " + ".join(combination),
            "folds": scores,
            "mean_auroc": float(np.mean([s["auroc"] for s in scores.values()])),
            "mean_accuracy": float(np.mean([s["mean_accuracy"] for s in scores.values()])),
        })  # fmt: skip
    lines = [f"| features | {' | '.join(f'without {g}: AUROC' for g in generators)} | mean AUROC | mean acc. |"]
    lines.append("| --- " * (len(generators) + 3) + "|")
    for row in rows:
        cells = " | ".join(f"{row['folds'][g]['auroc']:.3f}" for g in generators)
        lines.append(f"| {row['features']} | {cells} | **{row['mean_auroc']:.3f}** | {row['mean_accuracy']:.3f} |")
    table = "\n".join(lines)
    elapsed = time.perf_counter() - started
    print(table)
    print(f"{elapsed / 60:.1f} min; load average before {load_before}, after {os.getloadavg()}")
    write_json(
        args.out,
        {
            "command": "python benchmarks/generator_features.py "
            + " ".join(argv if argv is not None else sys.argv[1:]),
            "machine": machine() | {"load_average_before": load_before},
            "seconds": round(elapsed, 1),
            "feature_seconds": seconds,
            "results": rows,
            "table": table,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
