"""How fast ``deepart-hf predict`` scores files on this machine, and where the time goes.

For a resize model and a crop model (ResNet-18 from scratch: the weights do not change the cost), on the real
DeepArt sample (1024-pixel PNG and JPEG files): per image, single-threaded, the decode (the project's decoder),
the preprocessing (the saved processor) and the model's forward pass at batch 1 and batched; then whole runs of
``Detector.predict_rows`` (what the command calls) at batch 1 and batched, in images/s. Prints and saves JSON.

    python benchmarks/predict_speed.py [--sample ../shared/data/deepart] [--images 40] [--batch_size 16]

The goal: the whole run costs no more per image than decoding plus the model's own forward pass (threads decode
while the model runs, so on enough cores it approaches the larger of the two).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch
from PIL import Image as PILImage
from timing import per_call_ms

from deepart_hf.files import write_json
from deepart_hf.inference.detector import Detector, read_image
from deepart_hf.inference.inputs import InputFile
from deepart_hf.models import create_model

HERE = Path(__file__).resolve().parent
MODELS = {  # name: create_model options
    "resnet18-resize224": dict(preprocess="resize"),
    "resnet18-crop224x3": dict(preprocess="crop", eval_crops=3),
}


def median_ms(fn, values, repeats: int = 2) -> float:
    """Median over values of the best of ``repeats`` calls, in ms: the work's cost, not other jobs' noise."""
    return round(statistics.median(per_call_ms(fn, values, repeats)), 2)


def sample_files(sample: Path, n: int) -> list[Path]:
    human, ai = sorted((sample / "Human").iterdir()), sorted((sample / "Aigc").iterdir())
    return [path for pair in zip(human, ai) for path in pair][:n]  # both formats, alternating


def measure(name: str, options: dict, files: list[Path], batch_size: int) -> dict:
    model, processor = create_model("resnet18", from_scratch=True, image_size=224, **options)
    detector = Detector(model, processor, batch_size=batch_size, device="cpu")
    items = [InputFile(str(path), read=path.read_bytes) for path in files]
    images = [read_image(item) for item in items[:8]]
    pixels = [processor(images=[image], return_tensors="pt")["pixel_values"] for image in images]
    batch = torch.cat([pixels[i % len(pixels)] for i in range(batch_size)])
    detector.predict_pixels(batch)  # warm-up: first calls allocate
    per_image = {
        "decode_ms": median_ms(read_image, items),
        "preprocess_ms": median_ms(lambda image: processor(images=[image], return_tensors="pt"), images),
        "model_batch1_ms": median_ms(detector.predict_pixels, pixels),
        f"model_batch{batch_size}_ms_per_image": round(median_ms(detector.predict_pixels, [batch] * 3) / batch_size, 2),
    }
    runs = {}
    for size in (1, batch_size):
        detector.batch_size = size
        start = time.perf_counter()
        rows = detector.predict_rows(items)
        elapsed = time.perf_counter() - start
        assert not any(row.failed for row in rows)
        runs[f"batch{size}_images_per_s"] = round(len(rows) / elapsed, 1)
        runs[f"batch{size}_ms_per_image"] = round(1000 * elapsed / len(rows), 1)
    goal = per_image["decode_ms"] + per_image[f"model_batch{batch_size}_ms_per_image"]
    runs["goal_ms_per_image"] = round(goal, 1)  # decode + the model's own forward pass
    runs["meets_goal"] = runs[f"batch{batch_size}_ms_per_image"] <= goal
    print(f"{name}: {json.dumps(per_image)}\n  {json.dumps(runs)}")
    return {"per_image_single_thread": per_image, "predict_rows": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=HERE.parent.parent / "shared" / "data" / "deepart")
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--output", type=Path, default=HERE / "results" / "predict_speed.json")
    args = parser.parse_args()
    files = sample_files(args.sample, args.images)
    load_before = round(os.getloadavg()[0], 2)
    results = {name: measure(name, options, files, args.batch_size) for name, options in MODELS.items()}
    results["setup"] = {"images": len(files), "batch_size": args.batch_size, "sample": str(args.sample)}
    results["environment"] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "pillow": PILImage.__version__,
        "cpu_count": os.cpu_count(),
        "load_average_1min_before_after": [load_before, round(os.getloadavg()[0], 2)],
    }
    write_json(args.output, results)
    print(f"saved to {args.output}")


if __name__ == "__main__":
    main()
