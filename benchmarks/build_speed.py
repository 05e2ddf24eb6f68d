"""Images/s of a DeepArt build (read + full decode check + Arrow + Parquet), at the full set's size.

The full set (602 images, 441 MB) is not available offline, so the 40-pair sample is replicated under
new PaintingIDs until it has at least --images images. Prints the figures and saves them as JSON.

The decode check fingerprints every image (a hash of its decoded pixels, for duplicates and leaks);
``decode_only_1_thread_s`` times the bare decode on the same bytes, so the fingerprint's cost is the
difference. The replicas are copies, so the build also lists 640 identical images in 40 x 8 groups.

    python benchmarks/build_speed.py [--sample ../shared/data/deepart] [--images 602]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import deepart_hf
from deepart_hf.data.images import open_image, probe_bytes
from deepart_hf.files import write_json

HERE = Path(__file__).resolve().parent


def replicate(sample: Path, dest: Path, images: int) -> int:
    pairs = sorted(p.stem for p in (sample / "Human").iterdir())
    copies = -(-images // (2 * len(pairs)))
    for folder in ("Human", "Aigc"):
        (dest / folder).mkdir(parents=True)
        for path in (sample / folder).iterdir():
            book, number = path.stem.split("-")
            for k in range(copies):
                target = dest / folder / f"{book}-{int(number) + 1000 * k}{path.suffix}"
                try:
                    os.link(path, target)  # same bytes, no extra disk
                except OSError:
                    shutil.copy2(path, target)
    return copies * 2 * len(pairs)


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=HERE.parent.parent / "shared" / "data" / "deepart")
    parser.add_argument("--images", type=int, default=602)
    parser.add_argument("--output", type=Path, default=HERE / "results" / "build_speed.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "deepart"
        n = replicate(args.sample, source, args.images)
        files = sorted(p for p in source.rglob("*") if p.is_file())
        megabytes = sum(p.stat().st_size for p in files) / 1e6
        # Warm the page cache so every stage below reads from memory, like a second build would.
        _, read_s = timed(lambda: [p.read_bytes() for p in files])
        data = [p.read_bytes() for p in files]
        _, decode_only_s = timed(lambda: [open_image(d).close() for d in data])
        _, decode_1thread_s = timed(lambda: [probe_bytes(d) for d in data])
        workers = min(8, (os.cpu_count() or 1) + 2)
        with ThreadPoolExecutor(workers) as pool:
            _, decode_threads_s = timed(lambda: list(pool.map(probe_bytes, data)))
        result, build_s = timed(lambda: deepart_hf.build("deepart", source))
        _, publish_s = timed(lambda: deepart_hf.publish(result, Path(tmp) / "out"))

    figures = {
        "images": n,
        "megabytes": round(megabytes, 1),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "read_bytes_s": round(read_s, 2),
        "decode_only_1_thread_s": round(decode_only_s, 2),
        "decode_check_1_thread_s": round(decode_1thread_s, 2),
        "fingerprint_overhead_pct": round(100 * (decode_1thread_s / decode_only_s - 1), 1),
        f"decode_check_{workers}_threads_s": round(decode_threads_s, 2),
        "build_s": round(build_s, 2),
        "publish_s": round(publish_s, 2),
        "total_s": round(build_s + publish_s, 2),
        "images_per_s": round(n / (build_s + publish_s), 1),
        "megabytes_per_s": round(megabytes / (build_s + publish_s), 1),
    }
    for key, value in figures.items():
        print(f"{key:>28}: {value}")
    write_json(args.output, figures)
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
