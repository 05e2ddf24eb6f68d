"""What familiarity costs on this machine: fitting it at the end of training, its file, and the distances
``predict`` adds per image, at the stored cap (``MAX_STORED`` images) and the feature sizes of the registry's
backbones (512: ResNet-18, 1280: EfficientNet-Lite0, 768: ViT-B/16). Features are random: the cost depends only
on the shapes. Prints and saves JSON.

    python benchmarks/familiarity_cost.py [--stored 2000] [--queries 1000]

Not counted here: the forward passes over the stored images at the end of training (one per image, at most
``MAX_STORED``, at the speed in the "Prediction speed" section), which dominate.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from deepart_hf.files import write_json
from deepart_hf.models.familiarity import FAMILIARITY_FILE, MAX_STORED, Familiarity

HERE = Path(__file__).resolve().parent
DIMENSIONS = (512, 768, 1280)


def best_seconds(fn, repeats: int = 3) -> float:
    """Best of ``repeats``: the work's cost, not other jobs' noise on a shared machine."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(dimension: int, stored: int, queries: int) -> dict:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(stored, dimension)).astype(np.float32)
    labels = rng.integers(0, 2, stored)
    familiarity = Familiarity.fit(features, labels)
    fit_s = best_seconds(lambda: Familiarity.fit(features, labels))
    new = rng.normal(size=(queries, dimension)).astype(np.float32)
    batch = new[:16]
    with tempfile.TemporaryDirectory() as folder:
        familiarity.save(folder)
        size = (Path(folder) / FAMILIARITY_FILE).stat().st_size
        load_s = best_seconds(lambda: Familiarity.load(folder))
    result = {
        "stored": familiarity.size,
        "fit_s": round(fit_s, 3),
        "file_mb": round(size / 1e6, 2),
        "load_ms": round(1000 * load_s, 1),
        f"distances_{queries}_images_s": round(best_seconds(lambda: familiarity.distances(new)), 3),
        "distances_batch16_ms_per_image": round(
            statistics.median(1000 * best_seconds(lambda: familiarity.distances(batch)) / 16 for _ in range(5)), 3
        ),
    }
    print(f"D={dimension}: {result}")
    return result


def cpu_model() -> str:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor()
    found = {line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip() for line in text.splitlines() if ":" in line}
    flags = found.get("Flags", "").split()
    return f"{found.get('Model name', '?')} ({'native bf16' if 'avx512_bf16' in flags else 'no native bf16'})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=MAX_STORED)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--output", type=Path, default=HERE / "results" / "familiarity_cost.json")
    args = parser.parse_args()
    load_before = round(os.getloadavg()[0], 2)
    results = {f"D{dimension}": measure(dimension, args.stored, args.queries) for dimension in DIMENSIONS}
    results["environment"] = {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "load_average_1min_before_after": [load_before, round(os.getloadavg()[0], 2)],
    }
    write_json(args.output, results)
    print(f"saved to {args.output}")


if __name__ == "__main__":
    main()
