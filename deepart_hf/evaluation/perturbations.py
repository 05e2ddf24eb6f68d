"""What happens to an image between its maker and a detector: re-compression, blur, downscaling, a change of
container, loss of colour. Each perturbation is a named, parameterised function PIL image -> PIL image.

Decisions:

* The families are the ones forensic detectors are judged on (CNNDetection, Wang et al. 2020; the GenImage and
  Synthbuster robustness tables): JPEG quality, Gaussian blur, downscaling. Format equalisation removes the
  container as a cue (DeepArt: every human painting but one is a PNG, every AI image a JPEG); grayscale removes
  colour, the style shortcut the DeepArt paper warns about (section 4.3).
* "all as PNG" stores the decoded pixels losslessly, so it must score exactly like the clean images: it is the
  control that shows the detector reads pixels, not files. "all as JPEG q90" is the equalisation that matters.
* Downscaling uses Pillow's antialiased bicubic resampling, as an image host or a social network would; the
  detector's own preprocessing then runs on the smaller image.
* ``quick`` keeps one strength per family (the middle one, and the JPEG equalisation for the format family): the
  shape of each weakness at a third of the cost. ``auto`` (the default) runs every strength on test splits of up
  to ``AUTO_FULL_MAX_IMAGES`` images and the quick set on larger ones, where the report would otherwise cost
  more than training.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, ImageFilter


@dataclass(frozen=True)
class Perturbation:
    family: str  # one plot per family
    name: str
    param: float | str
    apply: Callable[[Image.Image], Image.Image]
    quick: bool = False  # in the quick set: one strength per family

    @property
    def label(self) -> str:
        return f"{self.name} {self.param}"


def reencode(image: Image.Image, format: str, **options) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def jpeg(quality: int) -> Callable[[Image.Image], Image.Image]:
    return lambda image: reencode(image, "JPEG", quality=quality)


def blur(sigma: float) -> Callable[[Image.Image], Image.Image]:
    return lambda image: image.filter(ImageFilter.GaussianBlur(sigma))  # Pillow's radius is the standard deviation


def downscale(factor: float) -> Callable[[Image.Image], Image.Image]:
    def apply(image: Image.Image) -> Image.Image:
        size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
        return image.resize(size, Image.Resampling.BICUBIC, reducing_gap=None)

    return apply


def grayscale(image: Image.Image) -> Image.Image:
    return image.convert("L").convert("RGB")


JPEG_QUALITIES = (95, 75, 50, 30)
BLUR_SIGMAS = (0.5, 1.0, 2.0)
DOWNSCALE_FACTORS = (0.75, 0.5, 0.25)

QUICK_JPEG_QUALITY, QUICK_BLUR_SIGMA, QUICK_DOWNSCALE_FACTOR = 75, 1.0, 0.5

PERTURBATIONS: tuple[Perturbation, ...] = (
    *(Perturbation("jpeg", "JPEG quality", q, jpeg(q), q == QUICK_JPEG_QUALITY) for q in JPEG_QUALITIES),
    *(Perturbation("blur", "Gaussian blur sigma", s, blur(s), s == QUICK_BLUR_SIGMA) for s in BLUR_SIGMAS),
    *(
        Perturbation("downscale", "downscale factor", f, downscale(f), f == QUICK_DOWNSCALE_FACTOR)
        for f in DOWNSCALE_FACTORS
    ),
    Perturbation("format", "all re-encoded as", "JPEG q90", jpeg(90), quick=True),
    Perturbation("format", "all re-encoded as", "PNG", lambda image: reencode(image, "PNG", compress_level=1)),
    Perturbation("color", "colour removed", "grayscale", grayscale, quick=True),
)

FAMILIES = {
    "jpeg": "JPEG re-compression (quality)",
    "blur": "Gaussian blur (sigma, pixels)",
    "downscale": "downscaling (factor)",
    "format": "format equalisation",
    "color": "colour removal",
}


AUTO_FULL_MAX_IMAGES = 1000
ROBUSTNESS_HELP = (
    "perturbations of the test images in the validity report: full (every strength of jpeg, blur, downscale, "
    "format, color), quick (one strength per family), none, or a comma list of families; default auto: full for "
    f"test splits of up to {AUTO_FULL_MAX_IMAGES} images, quick beyond"
)


def select_perturbations(names: str, n_images: int | None = None) -> tuple[Perturbation, ...]:
    """``auto``, ``full`` (or ``all``), ``quick``, ``none``, or a comma list of families (``jpeg,blur``).
    ``auto`` depends on the number of test images: full up to ``AUTO_FULL_MAX_IMAGES`` (or when unknown)."""
    names = names.strip().lower()
    if names == "auto":
        names = "full" if n_images is None or n_images <= AUTO_FULL_MAX_IMAGES else "quick"
    if names in ("full", "all", ""):
        return PERTURBATIONS
    if names == "quick":
        return tuple(p for p in PERTURBATIONS if p.quick)
    if names == "none":
        return ()
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in FAMILIES]
    if unknown:
        from ..errors import DeepArtError

        raise DeepArtError(
            f"unknown robustness check {unknown[0]!r}; choose auto, full, quick, none, or a comma list of "
            f"{', '.join(FAMILIES)}"
        )
    return tuple(p for p in PERTURBATIONS if p.family in wanted)
