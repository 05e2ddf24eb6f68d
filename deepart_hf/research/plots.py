"""The research figures: paired slopes, class distributions, mean spectra, pair galleries and few-shot curves.

Saved like every other figure of the project (``evaluation.plots.save_figure``: bare Agg figures, atomic PNGs).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from ..constants import AI, HUMAN, ID2LABEL
from ..evaluation.plots import save_figure

CLASS_COLOURS = {HUMAN: "tab:blue", AI: "tab:red"}
THUMBNAIL = 192  # pixels on the long side of a gallery image


def plot_paired_slopes(
    values: dict[str, tuple[np.ndarray, np.ndarray]], effects: dict[str, float], path: str | os.PathLike
) -> Path:
    """One panel per feature: a line from each painting's value to its re-creation's, red where the re-creation
    is higher, blue where lower; the medians in black."""
    figure = Figure(figsize=(3.2 * len(values), 4))
    for axes, (feature, (human, ai)) in zip(np.atleast_1d(figure.subplots(1, len(values))), values.items()):
        for before, after in zip(human, ai):
            colour = CLASS_COLOURS[AI] if after > before else CLASS_COLOURS[HUMAN] if after < before else "grey"
            axes.plot([0, 1], [before, after], color=colour, alpha=0.35, linewidth=0.8, marker="o", markersize=2)
        axes.plot([0, 1], [np.median(human), np.median(ai)], color="black", linewidth=2.5, marker="o", label="median")
        axes.set_xticks([0, 1], [ID2LABEL[HUMAN], ID2LABEL[AI]])
        axes.set_xlim(-0.3, 1.3)
        axes.set_title(f"{feature}\nrank-biserial r = {effects[feature]:+.2f}", fontsize=9)
    figure.suptitle(f"Each painting and its re-creation ({len(human)} pairs)", y=1.04)
    return save_figure(figure, path)


def plot_class_distributions(
    values: dict[str, tuple[np.ndarray, np.ndarray]], effects: dict[str, float], path: str | os.PathLike
) -> Path:
    """One panel per feature: box plot and points of each class (unpaired data)."""
    figure = Figure(figsize=(3.2 * len(values), 4))
    rng = np.random.default_rng(0)
    for axes, (feature, (human, ai)) in zip(np.atleast_1d(figure.subplots(1, len(values))), values.items()):
        axes.boxplot([human, ai], positions=[0, 1], widths=0.5, showfliers=False)
        for position, (label, points) in enumerate(((HUMAN, human), (AI, ai))):
            axes.scatter(
                position + rng.uniform(-0.15, 0.15, len(points)), points, s=6, alpha=0.5, color=CLASS_COLOURS[label]
            )
        axes.set_xticks([0, 1], [ID2LABEL[HUMAN], ID2LABEL[AI]])
        axes.set_title(f"{feature}\nrank-biserial r = {effects[feature]:+.2f}", fontsize=9)
    figure.suptitle("Feature values by class", y=1.04)
    return save_figure(figure, path)


def plot_mean_spectra(frequencies: np.ndarray, log_spectra: dict[int, np.ndarray], path: str | os.PathLike) -> Path:
    """Mean log10 relative power per radial frequency for each class, with a band of ± one standard deviation."""
    figure = Figure(figsize=(6, 4.5))
    axes = figure.add_subplot()
    for label, spectra in log_spectra.items():
        mean, sd = spectra.mean(axis=0), spectra.std(axis=0)
        axes.plot(frequencies, mean, color=CLASS_COLOURS[label], label=f"{ID2LABEL[label]} (n = {len(spectra)})")
        axes.fill_between(frequencies, mean - sd, mean + sd, color=CLASS_COLOURS[label], alpha=0.2)
    axes.set_xscale("log")
    axes.set_xlabel("spatial frequency (cycles per pixel)")
    axes.set_ylabel("log10 relative power")
    axes.set_title("Radially averaged power spectrum (mean ± sd)")
    axes.legend()
    return save_figure(figure, path)


def _thumbnail(image: Image.Image) -> Image.Image:
    image = image.copy()
    image.thumbnail((THUMBNAIL, THUMBNAIL))
    return image


def plot_pair_gallery(rows: dict[str, list[dict]], feature: str, path: str | os.PathLike) -> Path:
    """Rows of pairs (``{"group", "human", "ai", "human_value", "ai_value"}`` with PIL images), each pair shown
    as the painting beside its re-creation with both values of ``feature``."""
    width = max(len(pairs) for pairs in rows.values())
    figure = Figure(figsize=(3.0 * width, 1.9 * len(rows) + 0.6))
    grid = figure.subplots(len(rows), 2 * width, squeeze=False)
    for row_axes, (title, pairs) in zip(grid, rows.items()):
        for axes in row_axes:
            axes.axis("off")
        for index, pair in enumerate(pairs):
            for offset, label in enumerate((HUMAN, AI)):
                axes = row_axes[2 * index + offset]
                axes.imshow(_thumbnail(pair[ID2LABEL[label]]))
                axes.set_title(
                    f"{pair['group']} {ID2LABEL[label]}\n{pair[ID2LABEL[label] + '_value']:.3g}",
                    fontsize=7,
                    color=CLASS_COLOURS[label],
                )
        row_axes[0].text(
            -0.1, 0.5, title, transform=row_axes[0].transAxes, rotation=90, ha="right", va="center", fontsize=9
        )
    figure.suptitle(f"Pairs by their difference in {feature}")
    return save_figure(figure, path)


def plot_few_shot(
    shots: list[str],
    deep: dict[str, dict[str, list]],
    baselines: dict[str, dict[str, list]],
    model: str,
    path: str | os.PathLike,
) -> Path:
    """Accuracy and AUROC (mean ± sd over seeds) against the shots per class: the detector as a band, the
    classical baselines as lines. ``deep``/each baseline: {metric: [(mean, sd) per shot, None where undefined]}."""
    figure = Figure(figsize=(11, 4.5))
    positions = np.arange(len(shots))
    for axes, metric, name in zip(figure.subplots(1, 2), ("accuracy", "auroc"), ("accuracy", "AUROC")):
        for label, curves, style in (
            (model, deep, dict(linewidth=2.5, color="black")),
            *((b, c, dict(linewidth=1.2, alpha=0.8)) for b, c in baselines.items()),
        ):
            points = [(x, *value) for x, value in zip(positions, curves[metric]) if value is not None]
            if not points:
                continue
            x, mean, sd = (np.array(column, dtype=np.float64) for column in zip(*points))
            line = axes.plot(x, mean, marker="o", markersize=4, label=label, **style)[0]
            axes.fill_between(x, mean - sd, mean + sd, color=line.get_color(), alpha=0.15 if label == model else 0.06)
        axes.axhline(0.5, color="grey", linestyle=":", linewidth=1)
        axes.set_xticks(positions, shots)
        axes.set_xlabel("training images per class")
        axes.set_ylabel(f"test {name}")
        axes.set_ylim(0.0, 1.02)
        axes.set_title(f"{name} (mean ± sd over seeds)")
    axes.legend(fontsize=8, loc="lower right")
    figure.suptitle("Few-shot learning curve")
    return save_figure(figure, path)
