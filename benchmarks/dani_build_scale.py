"""Peak memory and images/s of a D-ANI build (scan, full decode check, Parquet shards), as the set grows.

A D-ANI layout of --images small distinct images is generated in a temporary folder (the fixture's folder
scheme: photographs at 3 resolutions, 9 generators, their tasks; DALL-E files PNG bytes under .jpg names).
Each size is built by ``dataset_scripts/dani.py`` in a fresh process, which reports its own peak RSS, so the
sizes can be compared: a build that streams its rows keeps the same peak whatever the number of images.

    python benchmarks/dani_build_scale.py [--images 5000,50000] [--side 64]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from deepart_hf.files import write_json

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# Generator -> (resolution folder, tasks), as in ../shared/data/dani-layout-sample.
LAYOUT = {
    "DFGAN": (256, ("T2I",)),
    "GALIP": (224, ("T2I",)),
    "Dalle2": (512, ("T2I", "I2I")),
    "Dalle3": (1024, ("T2I",)),
    **dict.fromkeys(("SD_V14", "SD_V15", "SD_V21", "SD_XL", "Versatile"), (512, ("T2I", "I2I", "TI2I"))),
}
PHOTO_RESOLUTIONS = (224, 256, 512)
FILES_PER_COCO_IMAGE = len(PHOTO_RESOLUTIONS) + sum(len(tasks) for _, tasks in LAYOUT.values())


def encode(rng: np.random.Generator, side: int, fmt: str) -> bytes:
    base = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    pixels = np.kron(base, np.ones((side // 4, side // 4, 1), dtype=np.uint8))
    pixels = np.clip(pixels + rng.normal(0, 6, pixels.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt, **({"quality": 90} if fmt == "JPEG" else {"compress_level": 1}))
    return buffer.getvalue()


def generate_layout(root: Path, images: int, side: int) -> int:
    """Write about ``images`` distinct small files in the D-ANI scheme; returns how many were written."""
    rng = np.random.default_rng(0)
    coco_images = max(1, round(images / FILES_PER_COCO_IMAGE))
    captions, written = {}, 0
    for index in range(coco_images):
        coco, caption = 100_000 + index, 500_000 + index
        captions[str(coco)] = {
            "image_id": coco,
            "image_name": f"{coco:012d}.jpg",
            "captions": [{"caption_id": caption, "caption": f"scene {index}"}],
        }
        for resolution in PHOTO_RESOLUTIONS:
            path = root / "ORG" / str(resolution) / f"{coco:016d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(encode(rng, side, "JPEG"))
            written += 1
        for generator, (resolution, tasks) in LAYOUT.items():
            for task in tasks:
                path = root / generator / str(resolution) / task / f"{coco}_{caption}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(encode(rng, side, "PNG" if generator.startswith("Dalle") else "JPEG"))
                written += 1
    (root / "captions.json").write_text(json.dumps(captions), encoding="utf-8")
    return written


def build_once(source: Path, out: Path) -> dict:
    """Run in a child process: build + publish, then this process's peak RSS."""
    from deepart_hf.data.build_command import run_dataset_script

    imported_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the libraries alone
    start = time.perf_counter()
    status = run_dataset_script("dani", ["--source", str(source), "--out", str(out)])
    seconds = time.perf_counter() - start
    return {
        "status": status,
        "seconds": seconds,
        "imported_rss_mb": imported_mb,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", default="5000,50000", help="layout sizes to build, comma-separated")
    parser.add_argument("--side", type=int, default=64, help="side of each generated image in pixels")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "dani_build_scale.json")
    parser.add_argument("--child", nargs=2, metavar=("SOURCE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(build_once(Path(args.child[0]), Path(args.child[1]))))
        return

    runs = []
    for images in (int(n) for n in args.images.split(",")):
        with tempfile.TemporaryDirectory(prefix="dani-scale-") as tmp:
            source = Path(tmp) / "layout"
            start = time.perf_counter()
            count = generate_layout(source, images, args.side)
            generated_s = time.perf_counter() - start
            source_mb = sum(p.stat().st_size for p in source.rglob("*") if p.is_file()) / 1e6
            env = {**os.environ, "TQDM_DISABLE": "1", "PYTHONPATH": str(REPO)}
            child = subprocess.run(
                [sys.executable, __file__, "--child", str(source), str(Path(tmp) / "out")],
                env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            result = json.loads(child.stdout.strip().splitlines()[-1])
            out_mb = sum(p.stat().st_size for p in (Path(tmp) / "out").rglob("*") if p.is_file()) / 1e6
            run = {
                "images": count,
                "source_mb": round(source_mb, 1),
                "parquet_mb": round(out_mb, 1),
                "layout_generated_s": round(generated_s, 1),
                "build_s": round(result["seconds"], 1),
                "images_per_s": round(count / result["seconds"], 1),
                "rss_after_imports_mb": round(result["imported_rss_mb"], 1),
                "peak_rss_mb": round(result["peak_rss_mb"], 1),
            }
            runs.append(run)
            print(
                f"{count} images ({source_mb:.0f} MB): {run['images_per_s']} images/s, build {run['build_s']} s, peak RSS {run['peak_rss_mb']} MB "
                f"({run['rss_after_imports_mb']} MB after imports)"
            )
    figures = {
        "benchmark": "dani_build_scale",
        "command": " ".join(["python", "benchmarks/dani_build_scale.py", *sys.argv[1:]]),
        "image_side": args.side,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "runs": runs,
    }
    write_json(args.output, figures)
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
