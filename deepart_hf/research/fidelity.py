"""Per-image fidelity features: the DeepArt paper's qualitative list (unusual textures, a uniform level of
detail, digital artefacts, blending) as numbers a test can compare, computed with NumPy, SciPy and
scikit-image on the decoded RGB image at its own resolution.

Every feature is computed twice: on the image as stored, and after re-encoding it as JPEG q90. The DeepArt
human paintings are PNG and the re-creations JPEG, so a feature that separates the classes only as stored
may be measuring the file format; the re-encoded copy gives both classes the same last compression step.

Extraction runs in a process pool (the features are pure NumPy/C work that holds the GIL for long stretches);
workers are forked where the platform allows it, so they do not re-import torch and transformers.
"""

from __future__ import annotations

import io
import multiprocessing
from collections import deque
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial

import numpy as np
from PIL import Image
from scipy import fft, ndimage
from skimage.color import rgb2gray
from skimage.feature import canny, graycomatrix, graycoprops
from tqdm.auto import tqdm

from ..data.images import decode_image, open_image, upright_rgb

# --- constants of the feature definitions -----------------------------------------------------------------------

SPECTRUM_BINS = 64  # radial bins between 0 and the Nyquist frequency (0.5 cycles per pixel)
SLOPE_BAND = (0.02, 0.3)  # cycles/pixel fitted for the spectrum slope: above the window's blur, below the noise floor
HIGH_FREQUENCY = 0.25  # cycles/pixel: the upper half of the frequency range
# Frequencies (cycles/pixel) where a 2x, 4x or 8x up-sampling leaves periodic peaks; JPEG's 8x8 blocks do too.
UPSAMPLING_FREQUENCIES = (0.5, 0.25, 0.125)
PEAK_NEIGHBOURHOOD = 9  # side of the window whose median is the local background of a spectral peak
DETAIL_TILES = 8  # the image is cut into DETAIL_TILES x DETAIL_TILES tiles for the detail-uniformity measure
GLCM_LEVELS = 64
GLCM_ANGLES = (0.0, np.pi / 4, np.pi / 2, 3 * np.pi / 4)
CANNY_SIGMA = 2.0
SATURATED = 0.1  # pixels below this HSV saturation have no meaningful hue
PALETTE_BITS = 4  # bits per channel when colours are counted
PALETTE_MIN_SHARE = 0.001  # a colour counts in the palette when it covers at least 0.1% of the image
FORMAT_CONTROL_QUALITY = 90
EPSILON = 1e-12
IN_FLIGHT = 4  # images queued per worker

# name -> one-line definition, in report order. The report, the CSV and the tests all read this.
FEATURES: dict[str, str] = {
    "spectrum_slope": f"slope of log power against log frequency of the radially averaged power spectrum (grey, Hann window), fitted over {SLOPE_BAND[0]}-{SLOPE_BAND[1]} cycles/px; natural images are near -2, steeper means smoother",
    "high_frequency_share": f"share of the spectral power (DC excluded) above {HIGH_FREQUENCY} cycles/px",
    "spectral_peak": f"largest peak of the noise residual's 2-D spectrum at the up-sampling frequencies {', '.join(map(str, UPSAMPLING_FREQUENCIES))} cycles/px (horizontal, vertical, diagonal), in decades above the median of its {PEAK_NEIGHBOURHOOD}x{PEAK_NEIGHBOURHOOD} neighbourhood",
    "noise_residual_rms": "RMS of the grey image minus its 3x3 median-filtered copy, in grey levels (0-255): the fine noise a denoiser removes",
    "laplacian_variance": "variance of the Laplacian of the grey image (0-255 scale): sharpness",
    "detail_spread": f"standard deviation across {DETAIL_TILES}x{DETAIL_TILES} tiles of log10 of each tile's Laplacian variance: low means a uniform level of detail",
    "edge_density": f"share of pixels on Canny edges (sigma {CANNY_SIGMA})",
    "glcm_contrast": f"GLCM contrast of the grey image at {GLCM_LEVELS} levels, distance 1, mean over 4 directions",
    "glcm_homogeneity": "GLCM homogeneity (same matrix)",
    "glcm_entropy": "GLCM entropy in nats (same matrix)",
    "colourfulness": "Hasler-Süsstrunk colourfulness: sqrt(sd_rg² + sd_yb²) + 0.3 sqrt(mean_rg² + mean_yb²), rg = R-G, yb = (R+G)/2-B",
    "saturation_mean": "mean HSV saturation (0-1)",
    "saturation_sd": "standard deviation of HSV saturation",
    "hue_spread": f"circular standard deviation of hue (radians) over pixels with saturation >= {SATURATED}; 0 when there are none",
    "palette_size": f"number of colours at {PALETTE_BITS} bits per channel that each cover at least {PALETTE_MIN_SHARE:.1%} of the image",
}
VARIANTS = ("stored", f"jpeg{FORMAT_CONTROL_QUALITY}")
SPECTRUM_FREQUENCIES = (np.arange(SPECTRUM_BINS) + 0.5) * 0.5 / SPECTRUM_BINS  # bin centres, cycles/pixel


@dataclass
class ImageFeatures:
    """What one image gives: its features as stored and re-encoded, and its radial spectrum (as stored)."""

    features: dict[str, dict[str, float]]  # variant -> feature -> value
    spectrum: np.ndarray  # log10 of the relative power per radial bin


# --- the features ------------------------------------------------------------------------------------------------


def _power_spectrum(gray: np.ndarray, window: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(power, fy, fx) of the half-plane real FFT; the Hann window keeps the image border out of the spectrum."""
    height, width = gray.shape
    signal = gray - gray.mean()
    if window:
        signal = signal * np.outer(np.hanning(height), np.hanning(width))
    power = np.abs(fft.rfft2(signal)) ** 2
    return power, fft.fftfreq(height)[:, None], fft.rfftfreq(width)[None, :]


def spectrum_summary(gray: np.ndarray) -> tuple[np.ndarray, float]:
    """(radial profile, high-frequency share) from one FFT.

    The profile is the mean power per radial frequency bin (SPECTRUM_BINS bins up to 0.5 cycles/px) relative to
    the total power without DC, so images of different sizes and contrast share one scale.
    """
    power, fy, fx = _power_spectrum(gray)
    radius = np.hypot(fy, fx)
    inside = (radius > 0) & (radius <= 0.5)
    total = max(power[inside].sum(), EPSILON)
    bins = np.minimum((radius[inside] / 0.5 * SPECTRUM_BINS).astype(np.int64), SPECTRUM_BINS - 1)
    sums = np.bincount(bins, weights=power[inside], minlength=SPECTRUM_BINS)
    counts = np.bincount(bins, minlength=SPECTRUM_BINS)
    mean = np.divide(sums, counts, out=np.zeros(SPECTRUM_BINS), where=counts > 0)
    return mean / total, float(power[inside & (radius > HIGH_FREQUENCY)].sum() / total)


def radial_spectrum(gray: np.ndarray) -> np.ndarray:
    return spectrum_summary(gray)[0]


def spectrum_slope(profile: np.ndarray) -> float:
    band = (SLOPE_BAND[0] <= SPECTRUM_FREQUENCIES) & (SLOPE_BAND[1] >= SPECTRUM_FREQUENCIES) & (profile > 0)
    if np.count_nonzero(band) < 2:
        return 0.0  # a flat image has no spectrum to fit
    slope, _ = np.polyfit(np.log10(SPECTRUM_FREQUENCIES[band]), np.log10(profile[band]), 1)
    return float(slope)


def spectral_peak(residual: np.ndarray) -> float:
    """Decades by which the residual spectrum at the up-sampling frequencies stands above its surroundings."""
    power, _, _ = _power_spectrum(residual, window=False)
    height, half_width = power.shape
    width = 2 * (half_width - 1)
    log_power = np.log10(power + EPSILON)
    offsets = np.arange(PEAK_NEIGHBOURHOOD) - PEAK_NEIGHBOURHOOD // 2
    best = -np.inf
    for frequency in UPSAMPLING_FREQUENCIES:
        row, column = int(round(frequency * height)) % height, min(int(round(frequency * width)), half_width - 1)
        for y, x in ((0, column), (row, 0), (row, column)):
            # the neighbourhood wraps around the periodic spectrum; columns past the half plane mirror back
            ys = (y + offsets) % height
            xs = np.abs(x + offsets)
            xs = np.where(xs >= half_width, 2 * (half_width - 1) - xs, xs)
            background = np.median(log_power[np.ix_(ys, xs)])
            best = max(best, log_power[y, x] - background)
    return float(best)


def detail_spread(laplacian: np.ndarray) -> float:
    rows = np.array_split(np.arange(laplacian.shape[0]), DETAIL_TILES)
    columns = np.array_split(np.arange(laplacian.shape[1]), DETAIL_TILES)
    tiles = [np.log10(laplacian[r[0] : r[-1] + 1, c[0] : c[-1] + 1].var() + EPSILON) for r in rows for c in columns]
    return float(np.std(tiles))


def glcm_features(gray: np.ndarray) -> dict[str, float]:
    levels = np.minimum((gray * GLCM_LEVELS).astype(np.uint8), GLCM_LEVELS - 1)
    matrix = graycomatrix(
        levels, distances=[1], angles=list(GLCM_ANGLES), levels=GLCM_LEVELS, symmetric=True, normed=True
    )
    return {f"glcm_{prop}": float(graycoprops(matrix, prop).mean()) for prop in ("contrast", "homogeneity", "entropy")}


def colourfulness(rgb: np.ndarray) -> float:
    red, green, blue = (rgb[..., channel].astype(np.float64) for channel in range(3))
    rg, yb = red - green, 0.5 * (red + green) - blue
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def colour_features(rgb: np.ndarray) -> dict[str, float]:
    # HSV by hand on float32: rgb2hsv's float64 pipeline is the slowest step of the whole feature set
    channels = rgb.astype(np.float32) / 255.0
    high, low = channels.max(axis=-1), channels.min(axis=-1)
    chroma = high - low
    saturation = np.divide(chroma, high, out=np.zeros_like(high), where=high > 0)
    coloured_mask = saturation >= SATURATED
    red, green, blue = (channels[..., i][coloured_mask] for i in range(3))
    top, spread = high[coloured_mask], chroma[coloured_mask]
    # the hexagonal hue of HSV, in sixths of a turn
    sextant = np.where(
        top == red,
        ((green - blue) / spread) % 6,
        np.where(top == green, (blue - red) / spread + 2, (red - green) / spread + 4),
    )
    coloured = sextant.astype(np.float64) * (np.pi / 3)
    if coloured.size:
        resultant = np.hypot(np.cos(coloured).mean(), np.sin(coloured).mean())
        hue_spread = float(np.sqrt(-2 * np.log(max(resultant, EPSILON))))
    else:
        hue_spread = 0.0
    shift = 8 - PALETTE_BITS
    codes = (
        ((rgb[..., 0].astype(np.int32) >> shift) << (2 * PALETTE_BITS))
        | ((rgb[..., 1].astype(np.int32) >> shift) << PALETTE_BITS)
        | (rgb[..., 2].astype(np.int32) >> shift)
    )
    shares = np.bincount(codes.ravel(), minlength=1 << (3 * PALETTE_BITS)) / codes.size
    return {
        "colourfulness": colourfulness(rgb),
        "saturation_mean": float(saturation.mean()),
        "saturation_sd": float(saturation.std()),
        "hue_spread": hue_spread,
        "palette_size": float(np.count_nonzero(shares >= PALETTE_MIN_SHARE)),
    }


def compute_features(rgb: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
    """Every feature of FEATURES for one RGB uint8 image, and its radial spectrum."""
    gray = rgb2gray(rgb)  # float64 luminance in [0, 1]
    profile, high_share = spectrum_summary(gray)
    residual = gray - ndimage.median_filter(gray, size=3)
    laplacian = ndimage.laplace(gray * 255.0)
    values = {
        "spectrum_slope": spectrum_slope(profile),
        "high_frequency_share": high_share,
        "spectral_peak": spectral_peak(residual),
        "noise_residual_rms": float(np.sqrt(np.mean(residual**2)) * 255.0),
        "laplacian_variance": float(laplacian.var()),
        "detail_spread": detail_spread(laplacian),
        "edge_density": float(canny(gray, sigma=CANNY_SIGMA).mean()),
        **glcm_features(gray),
        **colour_features(rgb),
    }
    return {name: values[name] for name in FEATURES}, profile


def reencode_jpeg(image: Image.Image, quality: int = FORMAT_CONTROL_QUALITY) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return upright_rgb(open_image(buffer.getvalue()))


def image_features(value: dict, format_control: bool = True) -> ImageFeatures:
    """Features of one undecoded ``Image(decode=False)`` value, as stored and (unless told not to) after the
    JPEG format control."""
    image = decode_image(value)
    stored, profile = compute_features(np.asarray(image))
    features = {VARIANTS[0]: stored}
    if format_control:
        features[VARIANTS[1]] = compute_features(np.asarray(reencode_jpeg(image)))[0]
    return ImageFeatures(features, profile)


def _pool_context():
    # fork: workers inherit the imported modules instead of importing torch again (seconds per worker)
    return multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None


def extract_features(
    values: Iterable[dict], total: int, workers: int = 2, desc: str = "fidelity features", format_control: bool = True
) -> list[ImageFeatures]:
    """``image_features`` of every value, in order, over ``workers`` processes, with a progress bar.

    Values are read from ``values`` only as workers free up (at most IN_FLIGHT per worker waiting), so the
    image bytes of a large dataset are never all in memory.
    """
    compute = partial(image_features, format_control=format_control)
    results: list[ImageFeatures] = []
    with tqdm(total=total, desc=desc, unit="img") as bar:
        if workers <= 1:
            for value in values:
                results.append(compute(value))
                bar.update()
            return results
        with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context()) as pool:
            pending: deque = deque()
            for value in values:
                pending.append(pool.submit(compute, value))
                if len(pending) >= IN_FLIGHT * workers:
                    results.append(pending.popleft().result())
                    bar.update()
            while pending:
                results.append(pending.popleft().result())
                bar.update()
    return results
