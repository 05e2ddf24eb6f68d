"""Seconds for the fidelity features of the DeepArt sample (80 images of 1024 px, each measured as stored and
re-encoded as JPEG q90), with 1 and 2 worker processes, extrapolated to the full set's 602 images.

The features cost the same per image whatever the image shows (every step is a fixed-size filter or FFT), so
the per-image time of the sample carries over to the full set. Prints the figures and saves them as JSON.
The load average before and after is recorded: on a machine shared with other jobs the times are upper bounds.

    python benchmarks/fidelity_speed.py [--sample ../shared/data/deepart] [--workers 1,2] [--full 602]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from deepart_hf.data.images import list_files
from deepart_hf.files import write_json
from deepart_hf.research.fidelity import extract_features

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=HERE.parent.parent / "shared" / "data" / "deepart")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--full", type=int, default=602, help="images of the full set, for the extrapolation")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "fidelity_speed.json")
    args = parser.parse_args()

    files = [p for folder in ("Human", "Aigc") for p in list_files(args.sample / folder)]
    values = [{"bytes": p.read_bytes(), "path": str(p)} for p in files]
    runs = []
    for workers in (int(w) for w in args.workers.split(",")):
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        extract_features(values, total=len(values), workers=workers)
        seconds = time.perf_counter() - start
        per_image = seconds / len(values)
        runs.append(
            {
                "workers": workers,
                "images": len(values),
                "seconds": round(seconds, 1),
                "seconds_per_image": round(per_image, 3),
                "full_set_minutes": round(per_image * args.full / 60, 1),
                "load_average_before": round(load_before, 2),
                "load_average_after": round(os.getloadavg()[0], 2),
            }
        )
        print(
            f"{workers} worker(s): {len(values)} images in {seconds:.1f} s ({per_image:.2f} s/image) -> "
            f"{args.full} images in {per_image * args.full / 60:.1f} min (load average {load_before:.1f} -> {os.getloadavg()[0]:.1f})"
        )
    write_json(
        args.output,
        {
            "what": "fidelity features per image, as stored and re-encoded as JPEG q90 (deepart_hf.research.fidelity.extract_features)",
            "sample": str(args.sample),
            "runs": runs,
            "cpu_count": os.cpu_count(),
            "machine": platform.platform(),
            "caveat": "CPU shared with other jobs while measured (see the load averages): times are upper bounds",
        },
    )
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
