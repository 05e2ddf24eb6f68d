"""Which frozen backbone generalises: EfficientNet-Lite0, -Lite1 and -Lite2 probes, on the last layer and on several
stages (``--probe_stages``), each left out of one offline source at a time and tested on it.

Sources: the DeepArt sample, the genre-study sample (as ``benchmarks/generalisation.py`` lays it out), a synthetic
set and the art-game half (500 512-pixel JPEG artworks, three generators: the hardest realistic source), each split
5:1:4 as in ``benchmarks/generalisation.py``.

A probe's backbone is frozen, so its features never change: each image's features are computed once per backbone,
by the detector itself (``create_model(NAME-linear, probe_stages=N)``, its own processor at its native input size,
``deepart_hf.models.features.image_features``; bf16 autocast where the CPU has native bf16, as training runs). The
multi-stage features begin with the last-layer ones (the same pass gives both). For every source left out, a
linear head is fitted on the training splits of the other sources (scikit-learn's ``LogisticRegression`` on
standardised features; the same head for every backbone and variant) and scored on the left-out source's test
split at its argmax decision, mean accuracy and AUROC with 95% bootstrap intervals
(``deepart_hf.evaluation.intervals.metric_intervals``). The seen sources' test splits are scored too.

    python benchmarks/probe_leave_one_out.py                                   # 3 backbones, 4 sources
    python benchmarks/probe_leave_one_out.py --backbones efficientnet-lite0 --sources deepart,synthetic   # a quick look

Prints the table and saves benchmarks/results/probe_leave_one_out.json (with the seconds each backbone's feature pass
and each head took).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import datasets
import numpy as np
import torch
from calibration_sample_size import machine
from generalisation import build_sources, cell
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from deepart_hf.data.images import decode_image
from deepart_hf.evaluation.intervals import metric_intervals
from deepart_hf.files import write_json
from deepart_hf.models import create_model
from deepart_hf.models.features import image_features
from deepart_hf.training.arguments import cpu_bf16_supported

HERE = Path(__file__).resolve().parent
SPLITS = ("train", "test")
LAST_LAYER = 1280  # every EfficientNet-Lite's pooled final features


def source_features(model, processor, split, batch_size: int, bf16: bool) -> np.ndarray:
    """(N, D) features of a split's images, in order, as the detector's head would read them."""
    split = split.cast_column("image", datasets.Image(decode=False))
    rows = []
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for start in range(0, len(split), batch_size):
            images = [decode_image(value) for value in split[start : start + batch_size]["image"]]
            pixels = processor(images=images, return_tensors="pt")["pixel_values"]
            rows.append(image_features(model, pixels).float().numpy())
    return np.concatenate(rows)


def leave_one_out(features: dict, labels: dict, sources: list[str], n_resamples: int) -> dict:
    """For each source: a head fitted on the other sources' training splits, scored on every test split."""
    results = {}
    for left_out in sources:
        seen = [source for source in sources if source != left_out]
        x = np.concatenate([features[source]["train"] for source in seen])
        y = np.concatenate([labels[source]["train"] for source in seen])
        begun = time.perf_counter()
        head = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(x, y)
        fitted = time.perf_counter() - begun
        results[left_out] = {
            "trained_on": seen,
            "n_train": len(y),
            "head_seconds": round(fitted, 2),
            "tests": {
                test: metric_intervals(
                    labels[test]["test"], head.decision_function(features[test]["test"]), n_resamples=n_resamples
                )
                for test in sources
            },
        }
    return results


def summary(results: dict) -> dict:
    """Means over the left-out sources (each its own test split) and over the seen ones."""
    unseen = [result["tests"][left_out] for left_out, result in results.items()]
    seen = [
        figures for left_out, result in results.items() for test, figures in result["tests"].items() if test != left_out
    ]
    return {
        f"{kind}_{metric}": float(np.mean([figures[metric]["value"] for figures in group]))
        for kind, group in (("unseen", unseen), ("seen", seen))
        for metric in ("mean_accuracy", "auroc")
    }


def table(rows: list[dict], sources: list[str]) -> str:
    header = ["backbone", "features", *(f"{s} left out: mean acc. / AUROC" for s in sources)]
    header += ["mean over left out: acc. / AUROC", "seen sources: acc. / AUROC", "feature pass s"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in rows:
        cells = [
            f"{cell(row['leave_one_out'][s]['tests'][s]['mean_accuracy'])} / "
            f"{cell(row['leave_one_out'][s]['tests'][s]['auroc'])}"
            for s in sources
        ]
        means = row["summary"]
        lines.append(
            f"| {row['backbone']} | {row['features']} | "
            + " | ".join(cells)
            + f" | {means['unseen_mean_accuracy']:.2f} / {means['unseen_auroc']:.2f}"
            + f" | {means['seen_mean_accuracy']:.2f} / {means['seen_auroc']:.2f} | {row['feature_seconds']} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbones", default="efficientnet-lite0,efficientnet-lite1,efficientnet-lite2")
    parser.add_argument("--sources", default="deepart,genres,synthetic,art-game")
    parser.add_argument("--probe_stages", type=int, default=3, help="the multi-stage variant's --probe_stages")
    parser.add_argument("--synthetic_per_class", type=int, default=60)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--n_resamples", type=int, default=1000)
    parser.add_argument("--out", default=str(HERE / "results" / "probe_leave_one_out.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    sources, bf16 = args.sources.split(","), cpu_bf16_supported()
    started, load_before = time.perf_counter(), os.getloadavg()
    rows = []

    def save(finished: bool) -> None:
        write_json(
            args.out,
            {
                "command": "python benchmarks/probe_leave_one_out.py "
                + " ".join(argv if argv is not None else sys.argv[1:]),
                "machine": machine() | {"load_average_before": load_before, "bf16_autocast": bf16},
                "seconds": round(time.perf_counter() - started, 1),
                "sources": sources,
                "test_counts": {s: {k: labels[s]["test"].tolist().count(k) for k in (0, 1)} for s in sources},
                "results": rows,
                "table": table(rows, sources),
                "finished": finished,
            },
        )

    with tempfile.TemporaryDirectory(prefix="probe-leave-one-out-") as tmp:
        folders = build_sources(Path(tmp), sources, args.synthetic_per_class)
        data = {source: datasets.load_dataset(str(folder)) for source, folder in folders.items()}
        labels = {s: {split: np.array(data[s][split]["label"]) for split in SPLITS} for s in sources}
        for backbone in tqdm(args.backbones.split(","), desc="backbones"):
            model, processor = create_model(f"{backbone}-linear", probe_stages=args.probe_stages)
            model.eval()
            begun = time.perf_counter()
            features = {
                s: {split: source_features(model, processor, data[s][split], args.batch_size, bf16) for split in SPLITS}
                for s in tqdm(sources, desc=f"{backbone} features", leave=False)
            }
            seconds = round(time.perf_counter() - begun, 1)
            n_images = sum(len(labels[s][split]) for s in sources for split in SPLITS)
            last_layer = {
                s: {split: f[:, :LAST_LAYER] for split, f in by_split.items()} for s, by_split in features.items()
            }
            for name, chosen in (("last layer", last_layer), (f"{args.probe_stages} stages", features)):
                results = leave_one_out(chosen, labels, sources, args.n_resamples)
                rows.append(
                    {
                        "backbone": backbone,
                        "features": name,
                        "dimensions": int(next(iter(chosen.values()))["train"].shape[1]),
                        "image_size": processor.data_config["input_size"][-1],
                        "feature_seconds": seconds,
                        "feature_images": n_images,
                        "leave_one_out": results,
                        "summary": summary(results),
                    }
                )
            save(finished=False)
        save(finished=True)
    print(table(rows, sources))
    print(f"{(time.perf_counter() - started) / 60:.1f} min; load average before {load_before}, after {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
