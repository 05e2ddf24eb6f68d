"""Image files, the one decoder: builds check every file with it, training and inference read pixels with it.

A build keeps each file's original bytes and checks them by a full decode (``probe_bytes``); training,
evaluation and inference turn an ``Image(decode=False)`` value into RGB pixels (``decode_image``). Both
go through ``open_image``, so a file that passed the build decodes the same way everywhere.

The decode check also fingerprints each image (``Probe.pixel_hash``, a hash of the decoded pixels, and
on request a 64-bit difference hash for near copies), so finding duplicates and leaks costs no second
decode.

Decoding is the expensive part of a build (a 1024-pixel PNG takes tens of milliseconds), so
``read_images`` runs in a thread pool: Pillow releases the GIL while it decodes, so threads use every core.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import xxhash
from PIL import Image, ImageOps, UnidentifiedImageError
from tqdm.auto import tqdm

from ..errors import DeepArtError, SourceError
from .build_report import BuildReport
from .schema import NEAR_HASH_KEY, PIXEL_HASH_KEY
from .tree import SourceTree, is_image_name

# Side of the grey thumbnail a difference hash compares: (9 x 8) gives 64 bits.
DHASH_SIZE = 8


@dataclass
class Probe:
    """What the decode check learns about one image."""

    file_format: str
    width: int
    height: int
    pixel_hash: str  # identical for identical decoded pixels, whatever the file's format or name
    near_hash: int | None = None  # difference hash, only when near-duplicates are looked for


@dataclass
class ImageFile:
    relpath: str  # relative to the source root, with forward slashes
    data: bytes
    probe: Probe

    @property
    def file_format(self) -> str:
        return self.probe.file_format

    @property
    def width(self) -> int:
        return self.probe.width

    @property
    def height(self) -> int:
        return self.probe.height

    def as_feature(self) -> dict:
        """The value of an ``Image()`` column that embeds the original bytes."""
        return {"bytes": self.data, "path": self.relpath}

    def record(self, label: int, source: str, **extra) -> dict:
        """A row of the image view, with the fingerprints the builder checks for duplicates."""
        return {
            "image": self.as_feature(),
            "label": label,
            "image_id": self.relpath,
            "source": source,
            "file_format": self.file_format,
            "width": self.width,
            "height": self.height,
            **extra,
            PIXEL_HASH_KEY: self.probe.pixel_hash,
            NEAR_HASH_KEY: self.probe.near_hash,
        }


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


def pixel_hash(image: Image.Image) -> str:
    """Hash of a decoded image's pixels: a PNG re-save of a JPEG's pixels has the same one, a re-encode does not.

    The pixels are read in place through the Arrow C data interface: ``tobytes()`` would copy every
    pixel first, which costs about a fifth of a JPEG's decode, while hashing in place costs about 1%.
    """
    digest = xxhash.xxh3_128(f"{image.mode}:{image.width}x{image.height}:".encode())
    if image.palette is not None:  # indices alone do not say the colours
        digest.update(bytes(image.getpalette(rawmode="RGBA") or []))
    try:
        buffers = [b for b in pa.array(image).buffers() if b is not None]
    except (ValueError, TypeError, NotImplementedError, pa.ArrowException):  # modes Arrow cannot export
        buffers = [image.tobytes()]
    for buffer in buffers:
        digest.update(memoryview(buffer))
    return digest.hexdigest()


def difference_hash(image: Image.Image) -> int:
    """64-bit dHash: does each pixel of a 9x8 grey thumbnail exceed its right neighbour? Survives resizing and re-encoding."""
    grey = np.asarray(image.convert("L").resize((DHASH_SIZE + 1, DHASH_SIZE), Image.Resampling.BOX), dtype=np.int16)
    bits = (grey[:, 1:] > grey[:, :-1]).ravel()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def probe_bytes(data: bytes, *, near: bool = False) -> Probe:
    """Fully decode ``data`` and fingerprint its pixels; raise BadImage if it is not a sound image."""
    with open_image(data) as image:
        if not image.format:
            raise BadImage("unknown image format")
        return Probe(
            image.format,
            image.width,
            image.height,
            pixel_hash(image),
            difference_hash(image) if near else None,
        )


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


def default_workers() -> int:
    return min(8, (os.cpu_count() or 1) + 2)


def read_image_file(root: Path, path: Path) -> ImageFile | str:
    """One file on disk, read and checked by a full decode: an ``ImageFile``, or the reason it cannot be used
    (for sources that read files one at a time while writing, such as D-ANI's)."""
    if not is_image_name(path.name):
        return f"not an image file (extension {path.suffix or 'none'!r})"
    try:
        data = path.read_bytes()
        if not data:
            return "empty file"
        probe = probe_bytes(data)
    except BadImage as exc:
        return str(exc)
    except OSError as exc:
        return f"cannot read ({exc.strerror or exc})"
    return ImageFile(path.relative_to(root).as_posix(), data, probe)


def read_images(
    tree: SourceTree,
    files: Iterable[str],
    report: BuildReport,
    *,
    strict: bool = False,
    workers: int | None = None,
    near: bool = False,
    desc: str = "reading images",
) -> list[ImageFile]:
    """Read and check ``files`` of ``tree``; bad ones are recorded in ``report`` (or raise if ``strict``).

    The order of the result follows ``files``, whatever order the threads finish in.
    """
    files = list(files)

    def load(rel: str) -> ImageFile | tuple[str, str]:
        if not is_image_name(rel):
            tree.claim(rel)
            return rel, f"not an image file (extension {Path(rel).suffix or 'none'!r})"
        try:
            data = tree.read(rel)
            if not data:
                return rel, "empty file"
            probe = probe_bytes(data, near=near)
        except BadImage as exc:
            return rel, str(exc)
        except OSError as exc:
            return rel, f"cannot read ({exc.strerror or exc})"
        return ImageFile(rel, data, probe)

    workers = workers or default_workers()
    results: list[ImageFile] = []
    bad: list[tuple[str, str]] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for item in tqdm(pool.map(load, files), total=len(files), desc=desc, unit="img", leave=False):
            if isinstance(item, ImageFile):
                results.append(item)
            else:
                bad.append(item)
    for rel, reason in bad:
        report.skip(rel, reason)
    if strict and bad:
        listing = "; ".join(f"{p}: {r}" for p, r in bad[:5])
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise SourceError(f"--strict: {len(bad)} bad file(s) in {tree.describe()}: {listing}{more}")
    return results
