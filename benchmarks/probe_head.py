"""Is a linear probe's head trained? The probe's own frozen features, fitted by a logistic regression, against the
head the ``deepart`` protocol's SGD trained on them, on the DeepArt sample (split 5:1:4).

For each budget, ``efficientnet-lite0-linear`` is trained with ``--protocol deepart`` at ``--image_size``; then the
saved model's pooled features (its frozen ImageNet backbone) of the training and test images are read, and
scikit-learn's ``LogisticRegression`` is fitted on the training features. Printed per budget: the trained head's
AUROC on the training and test splits beside the logistic regression's on the same features. Where the two differ,
the features are fine and the head is what the budget left untrained.

    python benchmarks/probe_head.py                       # 96 px, 4 and 20 epochs (about 1 minute)

Saves benchmarks/results/probe_head.json.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import datasets
import numpy as np
import torch
from generalisation import build_sources
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from deepart_hf.files import write_json
from deepart_hf.models.factory import load_trained
from deepart_hf.training.arguments import parse_arguments
from deepart_hf.training.run import train

HERE = Path(__file__).resolve().parent


def features_and_head(run_dir: Path, split) -> tuple[np.ndarray, np.ndarray]:
    """(pooled backbone features, the trained head's log-odds) of every image, as the saved model computes them."""
    model, processor = load_trained(str(run_dir))
    model.eval()
    timm_model = model.timm_model
    features, log_odds = [], []
    with torch.inference_mode():
        for example in split:
            pixels = processor(example["image"].convert("RGB"), return_tensors="pt")["pixel_values"]
            pooled = timm_model.forward_head(timm_model.forward_features(pixels), pre_logits=True)
            logits = timm_model.get_classifier()(pooled)[0]  # the backbone runs once for both
            features.append(pooled[0].numpy())
            log_odds.append(float(logits[1] - logits[0]))
    return np.stack(features), np.array(log_odds)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image_size", type=int, default=96)
    parser.add_argument("--epochs", default="4,20")
    parser.add_argument("--out", default=str(HERE / "results" / "probe_head.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(os.cpu_count() or 1)
    rows = []
    with tempfile.TemporaryDirectory(prefix="probe-head-") as tmp:
        folder = build_sources(Path(tmp), ["deepart"], 0)["deepart"]
        splits = datasets.load_dataset(str(folder))
        for epochs in args.epochs.split(","):
            run_dir = Path(tmp) / f"probe-{epochs}"
            begun = time.perf_counter()
            train(parse_arguments([
                "--dataset", str(folder), "--output_dir", str(run_dir), "--protocol", "deepart",
                "--model", "efficientnet-lite0-linear", "--image_size", str(args.image_size),
                "--num_train_epochs", epochs, "--dataloader_num_workers", "0", "--save_strategy", "no",
                "--robustness", "none", "--n_resamples", "200",
            ]))  # fmt: skip
            seconds = time.perf_counter() - begun
            (x_train, head_train), (x_test, head_test) = (
                features_and_head(run_dir, splits[name]) for name in ("train", "test")
            )
            y_train, y_test = np.array(splits["train"]["label"]), np.array(splits["test"]["label"])
            regression = LogisticRegression(max_iter=5000).fit(x_train, y_train)
            rows.append({
                "epochs": int(epochs),
                "image_size": args.image_size,
                "seconds": round(seconds, 1),
                "head_auroc": {"train": roc_auc_score(y_train, head_train), "test": roc_auc_score(y_test, head_test)},
                "logistic_regression_auroc": {
                    "train": roc_auc_score(y_train, regression.decision_function(x_train)),
                    "test": roc_auc_score(y_test, regression.decision_function(x_test)),
                },
                "n_train": len(y_train),
                "n_test": len(y_test),
            })  # fmt: skip
    lines = ["| epochs | trained head: train / test AUROC | logistic regression on the same features: train / test |"]
    lines.append("| --- | --- | --- |")
    for r in rows:
        head, regression = r["head_auroc"], r["logistic_regression_auroc"]
        lines.append(
            f"| {r['epochs']} | {head['train']:.2f} / {head['test']:.2f} | "
            f"{regression['train']:.2f} / {regression['test']:.3f} |"
        )
    table = "\n".join(lines)
    print(table)
    write_json(
        args.out,
        {
            "command": "python benchmarks/probe_head.py " + " ".join(argv or []),
            "load_average": os.getloadavg(),
            "results": rows,
            "table": table,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
