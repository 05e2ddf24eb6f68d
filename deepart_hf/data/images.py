"""Image files, the one decoder: builds check every file with it, training and inference read pixels with it.

A build keeps each file's original bytes and checks them by a full decode (``probe_bytes``); training,
evaluation and inference turn an ``Image(decode=False)`` value into RGB pixels (``decode_image``). Both
go through ``open_image``, so a file that passed the build decodes the same way everywhere.

Decoding is the expensive part of a build (a 1024-pixel PNG takes tens of milliseconds), so
``read_images`` runs in a thread pool: Pillow releases the GIL while it decodes, so threads use every core.
"""

from __future__ import annotations

import io
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from tqdm.auto import tqdm

from ..constants import IMAGE_EXTENSIONS
from ..errors import DeepArtError, SourceError
from .report import BuildReport


@dataclass
class ImageFile:
    relpath: str  # relative to the source root, with forward slashes
    data: bytes
    file_format: str
    width: int
    height: int

    def as_feature(self) -> dict:
        """The value of an ``Image()`` column that embeds the original bytes."""
        return {"bytes": self.data, "path": self.relpath}


class BadImage(ValueError):
    pass


def open_image(data: bytes | None = None, path: str | os.PathLike | None = None) -> Image.Image:
    """Open and fully decode an image from bytes (preferred) or a file; ``BadImage`` says why it cannot be."""
    if data is None and path is None:
        raise BadImage("neither bytes nor a path to read")
    try:
        image = Image.open(io.BytesIO(data) if data is not None else path)
        image.load()  # a truncated or corrupt file fails here, not later
    except UnidentifiedImageError:
        raise BadImage("not an image Pillow can read") from None
    except Image.DecompressionBombError as exc:
        raise BadImage(f"too large to decode safely ({exc})") from None
    # Pillow reports damaged files as any of these; a missing file is an OSError too
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadImage(f"corrupt or truncated image ({exc})") from None
    return image


def probe_bytes(data: bytes) -> tuple[str, int, int]:
    """Return (format, width, height) after a full decode; raise BadImage if it is not a sound image."""
    with open_image(data) as image:
        file_format, size = image.format, image.size
    if not file_format:
        raise BadImage("unknown image format")
    return file_format, size[0], size[1]


def decode_image(value: dict) -> Image.Image:
    """An undecoded ``Image(decode=False)`` value (``{"bytes", "path"}``) as an RGB PIL image.

    Mirrors ``datasets.Image().decode_example`` (bytes first, else the file at ``path``; EXIF orientation
    applied) so a model sees the same pixels as with a decoded column. A bad image is a ``DeepArtError``
    naming the file: builds decode every image, so one failing here was altered after its build.
    """
    path, data = value.get("path"), value.get("bytes")
    try:
        image = open_image(data, path)
    except BadImage as exc:
        raise DeepArtError(f"cannot decode image {path!r}: {exc}") from None
    return upright_rgb(image)


def upright_rgb(image: Image.Image) -> Image.Image:
    """EXIF orientation applied, converted to RGB: what ``datasets`` and the transformers pipeline do too.

    Two modes take a detour: Pillow's RGB conversion clips high-bit-depth grey (16-bit PNG and TIFF open as
    ``I;16`` or ``I``) at 255, which turns the image almost white, so it is rescaled to 8 bits first; and a palette
    image with transparency goes through RGBA, which gives the same pixels without Pillow's warning.
    """
    if image.getexif().get(Image.ExifTags.Base.Orientation) is not None:
        image = ImageOps.exif_transpose(image)
    if image.mode in HIGH_BIT_DEPTH_MODES:
        image = _eight_bit_grey(image)
    elif image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    return image if image.mode == "RGB" else image.convert("RGB")


HIGH_BIT_DEPTH_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}


def _eight_bit_grey(image: Image.Image) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float64)
    if image.mode.startswith("I;16") or (image.mode == "I" and pixels.max(initial=0) > 255):
        pixels = pixels / 257  # 65535 -> 255
    elif image.mode == "F" and pixels.max(initial=0) <= 1:
        pixels = pixels * 255  # floating-point images are usually scaled to [0, 1]
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), mode="L")


def list_files(root: Path) -> list[Path]:
    """Every regular file under root, sorted so builds are deterministic."""
    return sorted(p for p in root.rglob("*") if p.is_file())


def require_dir(path: Path, what: str) -> Path:
    if not path.exists():
        raise SourceError(f"{what} not found: {path}")
    if not path.is_dir():
        raise SourceError(f"{what} is not a folder: {path}")
    return path


def read_images(
    root: Path,
    files: list[Path],
    report: BuildReport,
    *,
    strict: bool = False,
    workers: int | None = None,
    desc: str = "reading images",
) -> list[ImageFile]:
    """Read and check ``files``; bad ones are recorded in ``report`` (or raise if ``strict``).

    The order of the result follows ``files``, whatever order the threads finish in.
    """

    def load(path: Path) -> ImageFile | tuple[Path, str]:
        rel = path.relative_to(root).as_posix()
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            return path, f"not an image file (extension {path.suffix or 'none'!r})"
        try:
            data = path.read_bytes()
            if not data:
                return path, "empty file"
            file_format, width, height = probe_bytes(data)
        except BadImage as exc:
            return path, str(exc)
        except OSError as exc:
            return path, f"cannot read ({exc.strerror or exc})"
        return ImageFile(rel, data, file_format, width, height)

    workers = workers or min(8, (os.cpu_count() or 1) + 2)
    results: list[ImageFile] = []
    bad: list[tuple[Path, str]] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for item in tqdm(pool.map(load, files), total=len(files), desc=desc, unit="img", leave=False):
            if isinstance(item, ImageFile):
                results.append(item)
            else:
                bad.append(item)
    for path, reason in bad:
        report.skip(path.relative_to(root).as_posix(), reason)
    if strict and bad:
        listing = "; ".join(f"{p}: {r}" for p, r in bad[:5])
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise SourceError(f"--strict: {len(bad)} bad file(s) in {root}: {listing}{more}")
    return results
