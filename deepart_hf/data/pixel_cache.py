"""Decoded pixels kept on disk: each image of a split decoded once, then read as native-resolution uint8 arrays.

Native-crop training (``--preprocess crop``) and the blur/JPEG augmentation need the full-size image, so without
this every epoch decodes every image again, while cutting a crop out of decoded pixels costs a small fraction of
that (benchmarks/README.md, "Per-image costs and the data pipeline").

Decisions:

* One folder per split under the ``datasets`` cache, named by the split's ``datasets`` fingerprint: a changed
  dataset has another fingerprint and gets another folder, so a cache is never stale. Inside, ``pixels.u8`` is
  every image's (height, width, 3) RGB pixels end to end, read through a NumPy memory map (a crop touches only
  its own rows), and ``index.json`` maps each image to its offset and shape.
* Images are looked up by content (a hash of the stored bytes, or the path when only a path is stored), not by
  row number, so the cache stays right whatever selection, shuffle or concatenation the rows go through after.
* The pixels are those of ``decode_image``, the one decoder, so a crop from the cache is byte-identical to a
  crop of the decoded image.
* Written once: into a temporary folder that is renamed into place when complete, so a reader never sees half
  a cache, and an interrupted build (an error, Ctrl-C or SIGTERM) removes its temporary folder. Under DDP the caller builds inside
  ``main_process_first``: the main process writes, the others find the finished folder.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import xxhash
from PIL import Image
from tqdm.auto import tqdm

from ..files import sigterm_unwinds
from .images import decode_image, default_workers
from .internals import split_fingerprint

logger = logging.getLogger(__name__)

CACHE_FOLDER = "deepart_hf-pixels"  # under the datasets cache (HF_DATASETS_CACHE)
PIXELS_FILE, INDEX_FILE = "pixels.u8", "index.json"
BUILD_CHUNK = 64  # rows read and decoded together while building
DISK_MARGIN = 1.1  # build only with this much more free space than the pixels need


CACHE_ENV = "DEEPART_HF_PIXEL_CACHE"  # another folder for the caches (a larger disk; tests' temporary folders)


def default_cache_root() -> Path:
    import datasets.config

    return Path(os.environ.get(CACHE_ENV) or Path(datasets.config.HF_DATASETS_CACHE) / CACHE_FOLDER)


def image_key(value: dict) -> str:
    """What identifies an undecoded ``Image(decode=False)`` value: its bytes' hash, else its path."""
    data = value.get("bytes")
    return f"xxh3:{xxhash.xxh3_128_hexdigest(data)}" if data is not None else f"path:{value.get('path')}"


class PixelCache:
    """A finished cache folder, read through a memory map opened on first use (so it pickles to DataLoader
    workers as a path, and each worker maps the file itself)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        index = json.loads((self.folder / INDEX_FILE).read_text())
        self.index: dict[str, tuple[int, int, int]] = {key: tuple(entry) for key, entry in index["images"].items()}
        self.nbytes = int(index["nbytes"])
        self.build_seconds = float(index["build_seconds"])
        self._pixels = None

    def __len__(self) -> int:
        return len(self.index)

    def __getstate__(self):
        return {**self.__dict__, "_pixels": None}

    def array(self, value: dict) -> np.ndarray | None:
        """The decoded (height, width, 3) uint8 pixels of ``value`` (a read-only view), None when not cached."""
        entry = self.index.get(image_key(value))
        if entry is None:
            return None
        if self._pixels is None:
            self._pixels = np.memmap(self.folder / PIXELS_FILE, dtype=np.uint8, mode="r", shape=(self.nbytes,))
        offset, height, width = entry
        return self._pixels[offset : offset + height * width * 3].reshape(height, width, 3)

    def image(self, value: dict) -> Image.Image:
        """The decoded RGB image of ``value``, as ``decode_image`` gives it (decoded again when not cached)."""
        pixels = self.array(value)
        return Image.fromarray(np.array(pixels)) if pixels is not None else decode_image(value)

    def __repr__(self) -> str:
        return f"PixelCache({self.folder}, {len(self)} images, {self.nbytes / 2**20:.0f} MiB)"


def pixel_cache(dataset, *, root: str | os.PathLike | None = None, workers: int | None = None) -> PixelCache | None:
    """The cache of ``dataset``'s ``image`` column (undecoded values), built on first use; None (decode as
    before) when the free disk space is short."""
    root = Path(root) if root is not None else default_cache_root()
    folder = root / split_fingerprint(dataset)
    if (folder / INDEX_FILE).is_file():
        return PixelCache(folder)
    needed = _pixel_bytes(dataset)
    root.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(root).free
    if needed is not None and needed * DISK_MARGIN > free:
        logger.warning("not caching decoded pixels: %d MiB needed, %d MiB free in %s", needed >> 20, free >> 20, root)
        return None
    # SIGTERM (a scheduler ending the job) unwinds like Ctrl-C, so the half-built folder is removed too
    with sigterm_unwinds():
        return _build(dataset, folder, workers or default_workers())


def _pixel_bytes(dataset) -> int | None:
    if {"width", "height"} <= set(dataset.column_names):
        return int(
            np.sum(np.asarray(dataset["width"], dtype=np.int64) * np.asarray(dataset["height"], dtype=np.int64) * 3)
        )
    return None


def _build(dataset, folder: Path, workers: int) -> PixelCache:
    raw = dataset.with_format(None).select_columns(["image"])
    temporary = folder.with_name(f".{folder.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    temporary.mkdir(parents=True)
    start = time.perf_counter()
    try:
        images, offset = {}, 0
        decode = lambda value: np.asarray(decode_image(value))
        with (
            open(temporary / PIXELS_FILE, "wb") as out,
            ThreadPoolExecutor(max_workers=workers) as pool,
            tqdm(total=len(raw), desc="decoding images once into the pixel cache", unit="img") as progress,
        ):
            # A chunk of rows at a time (the stored bytes of a whole split need not fit in memory); Pillow
            # releases the GIL while decoding, so the threads decode in parallel, written in row order.
            for row in range(0, len(raw), BUILD_CHUNK):
                values = [value for value in raw[row : row + BUILD_CHUNK]["image"] if image_key(value) not in images]
                for value, pixels in zip(values, pool.map(decode, values)):
                    key = image_key(value)
                    if key not in images:  # the same bytes twice in one chunk
                        height, width, _ = pixels.shape
                        out.write(np.ascontiguousarray(pixels, dtype=np.uint8).data)
                        images[key] = (offset, height, width)
                        offset += pixels.nbytes
                progress.update(min(BUILD_CHUNK, len(raw) - row))
        seconds = time.perf_counter() - start
        index = {"images": images, "nbytes": offset, "build_seconds": round(seconds, 3), "fingerprint": folder.name}
        (temporary / INDEX_FILE).write_text(json.dumps(index))
        try:
            temporary.rename(folder)
        except OSError:  # another process finished the same cache first: keep its copy
            shutil.rmtree(temporary, ignore_errors=True)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    cache = PixelCache(folder)
    logger.info(
        "pixel cache %s: %d images, %.0f MiB, built in %.1f s", folder, len(cache), cache.nbytes / 2**20, seconds
    )
    return cache
