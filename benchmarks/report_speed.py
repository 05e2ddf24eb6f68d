"""How long the validity report's scoring takes beside its parts, each measured alone on the same images.

For a ResNet-18 detector (from scratch: the weights do not change the cost; resize to 224) on the DeepArt sample
(80 images: 40 human PNGs, 40 AI JPEGs), with every perturbation (``--robustness full``) and the clean view:

* decoding: every image once, one thread;
* image work per family: each of the family's views (the perturbation and the detector's processor) of every
  decoded image, one thread; ``clean`` is the processor alone;
* forward passes: the model on every view's batches at the report's batch size, nothing else;
* the report: ``score_split`` as ``deepart-hf evaluate`` and ``train.py`` call it (threads prepare views while
  the model scores), and the plain sequential loop it replaced (decode a batch, then for each view perturb,
  preprocess and score it) for comparison;

then prints a table and saves benchmarks/results/report_speed.json. The goal: the report's wall time at most
1.5 x max(image work, forward passes), where image work = decoding + every family's image work.

    python benchmarks/report_speed.py [--sample ../shared/data/deepart] [--images 80] [--batch_size 16]

The load average is recorded before and after: on a shared CPU other jobs slow every figure.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time
from pathlib import Path

import datasets
import numpy as np
import torch
from PIL import Image as PILImage

from deepart_hf.data.images import decode_image
from deepart_hf.evaluation.perturbations import FAMILIES, PERTURBATIONS
from deepart_hf.evaluation.suite import score_split
from deepart_hf.files import write_json
from deepart_hf.inference.detector import Detector
from deepart_hf.models import create_model

HERE = Path(__file__).resolve().parent


def sample_split(sample: Path, n: int) -> datasets.Dataset:
    human, ai = sorted((sample / "Human").iterdir()), sorted((sample / "Aigc").iterdir())
    files = [(path, label) for pair in zip(human, ai) for path, label in zip(pair, (0, 1))][:n]
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=["human", "ai"])})
    return datasets.Dataset.from_dict(
        {
            "image": [{"bytes": path.read_bytes(), "path": path.name} for path, _ in files],
            "label": [label for _, label in files],
        },
        features=features,
    )


def seconds(fn) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def sequential_report(detector: Detector, split) -> dict:
    """The loop before threads: decode a batch, then perturb, preprocess and score it one view after another."""
    values = split.cast_column("image", datasets.Image(decode=False))["image"]
    scores = {"clean": [], **{p.label: [] for p in PERTURBATIONS}}
    for start in range(0, len(values), detector.batch_size):
        images = [decode_image(value) for value in values[start : start + detector.batch_size]]
        scores["clean"].append(detector.log_odds(images))
        for p in PERTURBATIONS:
            scores[p.label].append(detector.log_odds([p.apply(image) for image in images]))
    return {name: np.concatenate(parts) for name, parts in scores.items()}


def processed(processor, image) -> torch.Tensor:
    return processor(images=[image], return_tensors="pt")["pixel_values"][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=HERE.parent.parent / "shared" / "data" / "deepart")
    parser.add_argument("--images", type=int, default=80)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--skip_sequential", action="store_true", help="do not time the loop score_split replaced")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "report_speed.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    split = sample_split(args.sample, args.images)
    torch.manual_seed(0)
    model, processor = create_model("resnet18", from_scratch=True, image_size=224, preprocess="resize")
    detector = Detector(model, processor, batch_size=args.batch_size, device="cpu")
    values = split.cast_column("image", datasets.Image(decode=False))["image"]

    parts: dict[str, float] = {}
    parts["decode"], images = seconds(lambda: [decode_image(value) for value in values])
    views = {"clean": [("clean", None)]}
    for p in PERTURBATIONS:
        views.setdefault(p.family, []).append((p.label, p.apply))
    pixels: dict[str, torch.Tensor] = {}
    for family, family_views in views.items():
        start = time.perf_counter()
        for label, apply in family_views:
            pixels[label] = torch.stack([processed(processor, apply(image) if apply else image) for image in images])
        parts[f"image work: {family}"] = time.perf_counter() - start
    del images
    detector.backend(pixels["clean"][: args.batch_size])  # warm-up: the first call allocates
    start = time.perf_counter()
    for tensor in pixels.values():
        for first in range(0, len(tensor), args.batch_size):
            detector.backend(tensor[first : first + args.batch_size])
    forward = time.perf_counter() - start
    del pixels
    image_work = sum(parts.values())

    report, (_, clean, perturbed, _) = seconds(lambda: score_split(detector, split, PERTURBATIONS))
    results = {"score_split": report}
    if not args.skip_sequential:
        results["sequential loop"], reference = seconds(lambda: sequential_report(detector, split))
        difference = max(
            float(np.abs(reference[name] - scores).max()) for name, scores in [("clean", clean), *perturbed.items()]
        )
        results["max |score difference| vs sequential"] = difference
    goal = 1.5 * max(image_work, forward)
    load_after = os.getloadavg()

    rows = [*parts.items(), ("image work, total", image_work), ("forward passes", forward), *results.items()]
    print(f"{'part (alone, one thread for image work)':<42} {'seconds':>9}")
    for name, value in rows:
        print(f"{name:<42} {value:>9.3g}" if "difference" in name else f"{name:<42} {value:>9.2f}")
    print(f"{'goal: 1.5 x max(image work, forward)':<42} {goal:>9.2f}  met: {report <= goal}")
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model_name = next((line.split(":", 1)[1].strip() for line in cpu.splitlines() if "Model name" in line), "?")
    print(
        f"CPU {model_name}, {os.cpu_count()} cores, load average {load_before[0]:.2f} before, {load_after[0]:.2f} after"
    )
    write_json(
        args.output,
        {
            "seconds": {name: round(value, 3) if "difference" not in name else value for name, value in rows},
            "goal_seconds": round(goal, 3),
            "meets_goal": report <= goal,
            "report_over_max_part": round(report / max(image_work, forward), 3),
            "setup": {
                "images": len(split),
                "views_per_image": 1 + len(PERTURBATIONS),
                "families": list(FAMILIES),
                "batch_size": args.batch_size,
                "model": "resnet18 from scratch, resize 224, fp32",
                "sample": str(args.sample),
            },
            "environment": {
                "cpu": model_name,
                "cpu_count": os.cpu_count(),
                "torch_threads": torch.get_num_threads(),
                "python": platform.python_version(),
                "torch": torch.__version__,
                "pillow": PILImage.__version__,
                "load_average_1_5_15min_before": [round(x, 2) for x in load_before],
                "load_average_1_5_15min_after": [round(x, 2) for x in load_after],
                "machine": "shared with other jobs",
            },
        },
    )
    print(f"saved to {args.output}")


if __name__ == "__main__":
    main()
