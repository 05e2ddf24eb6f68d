"""A web demo of a trained detector (Gradio): drop or paste an image, see P(ai) and P(human), the decision at
the calibrated threshold in words, and for crop models a heat map of P(ai) per crop over the image. With a
generator-attribution model the label shows every class's probability (``real`` and each generator) instead.

``build_demo`` makes the Gradio Blocks; ``deepart-hf demo`` (``demo_command.py``) launches them. Beside the
scores: the run's key figures (evaluation.json when the run has one, else metrics.json), so nobody takes a
score for a verdict. A file that is not an image, is truncated or too large shows a message; the server goes on.
"""

from __future__ import annotations

import json
import math
import os
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..constants import AI, HUMAN, ID2LABEL
from ..data.images import BadImage
from ..errors import DeepArtError
from ..models.crop_detector import CropImageProcessor, reflect_pad
from ..models.preprocessing import describe_preprocessing
from .detector import (
    DECISION_WORDS,
    DEFAULT_UNCERTAIN,
    Detector,
    Prediction,
    check_uncertain,
    load_detector,
    read_image,
    uncertain_interval,
)
from .inputs import InputFile, image_suffixes

MAX_HEATMAP_GRID = 9  # at most 9 x 9 crops for the heat map: a few seconds on a CPU for a ResNet-18 at 224
HEATMAP_DISPLAY_SIDE = 768  # the overlay is drawn on a copy this large at most: the map is coarser than that
EXAMPLES_FOLDER = "examples"
FIGURE_FILES = ("evaluation.json", "metrics.json")
# What a person needs from a run's figures, in this order: (key, name)
KEY_METRICS = [
    ("accuracy", "accuracy"),
    ("human_accuracy", "accuracy on human images"),
    ("ai_accuracy", "accuracy on AI images"),
    ("auroc", "AUROC"),
    ("tpr_at_1_fpr", "AI images caught at 1% false alarms (TPR@1%FPR)"),
    ("macro_f1", "macro-F1 over the generators (attribution)"),
]


# --- what the page shows, computed without Gradio (tested directly) ------------------------------------------


@dataclass
class Analysis:
    probabilities: dict[str, float] | None  # {"ai": P(ai), "human": P(human)}, or each generator's, for gr.Label
    verdict: str  # markdown: the decision in words, or the error
    heatmap: Image.Image | None = None
    prediction: Prediction | None = None


def analyse(detector: Detector, path: str | os.PathLike | None, uncertain: float = DEFAULT_UNCERTAIN) -> Analysis:
    """One uploaded file -> what the page shows. Never raises for a bad file: the message says what is wrong."""
    if not path:
        return Analysis(None, "Upload or paste an image to score it.")
    name = Path(path).name
    try:
        image = read_image(InputFile(name, read=Path(path).read_bytes))
    except BadImage as exc:
        return Analysis(None, f"### Cannot score `{name}`\n{exc}. Upload an image file (PNG, JPEG, WebP, TIFF, ...).")
    row = detector.predict_rows([image], uncertain=uncertain, workers=1)[0]
    if row.failed:
        return Analysis(None, f"### Cannot score `{name}`\n{row.error}.")
    prediction = Prediction(
        row.prob_ai,
        row.log_odds_ai,
        detector.calibration.threshold_log_odds,
        row.class_probs,
        row.distance,
        row.distance_percentile,
        row.familiar,
    )
    probabilities = row.class_probs or {ID2LABEL[AI]: row.prob_ai, ID2LABEL[HUMAN]: 1.0 - row.prob_ai}
    verdict = verdict_markdown(detector, row.prob_ai, row.decision, uncertain)
    if row.generator:
        verdict += f"\n\nMost probable source: **{row.generator}** (P = {row.generator_prob:.3f}), P(ai) = 1 − P(real)."
    verdict += "\n\n" + familiarity_markdown(detector, prediction)
    return Analysis(probabilities, verdict, crop_heatmap(detector, image), prediction)


def verdict_markdown(detector: Detector, prob_ai: float, decision: str, uncertain: float) -> str:
    calibration = detector.calibration
    how = f"calibrated ({calibration.method})" if calibration.is_calibrated else "uncalibrated: the model's argmax"
    low, high = uncertain_interval(calibration.threshold_log_odds, uncertain)
    band = f"; for P(ai) between {low:.3g} and {high:.3g} the demo says *uncertain*" if uncertain else ""
    return (
        f"## {DECISION_WORDS[decision]}\n"
        f"P(ai) = **{prob_ai:.3f}**; decision threshold P(ai) = {calibration.threshold:.3f} ({how}){band}.\n\n"
        "A score is one model's evidence, not a verdict: read it with the figures beside it."
    )


def familiarity_markdown(detector: Detector, prediction: Prediction) -> str:
    """Whether the image is like the images the detector learnt from, in words, beside its score."""
    familiarity = detector.familiarity
    if familiarity is None or prediction.familiar is None:
        return "This detector carries no familiarity data: nothing says whether this image is like its training images."
    measured = (
        f"cosine distance {prediction.distance:.4f} to its k-th nearest training image, k = {familiarity.k}; "
        f"{prediction.distance_percentile:.0f}% of the training images are at most that far from theirs, and above "
        f"{familiarity.threshold:.4f} (their {familiarity.percentile:g}th percentile) an image is unfamiliar"
    )
    if prediction.familiar:
        return f"**Familiar ground**: this image is like the images this detector learnt from ({measured})."
    return (
        f"**Unfamiliar**: this image is unlike the images this detector learnt from, so the score above says little "
        f"about it ({measured}). On a collection of such images, re-fit the threshold with `deepart-hf calibrate` "
        "and some of its own human images."
    )


def crop_heatmap(detector: Detector, image: Image.Image) -> Image.Image | None:
    """For a crop model: P(ai) of each crop of an odd grid spread over the image, drawn over it.

    The grid spans the whole image (up to MAX_HEATMAP_GRID crops a side), so it shows more places than the few
    fixed crops the score averages; both use the same calibrated crop classifier. Each cell of the map shows
    the crop centred in it (when crops are sparser than the cells, a cell is wider than its crop).
    """
    processor = detector.processor
    if not isinstance(processor, CropImageProcessor):
        return None
    size = processor.crop_size
    padded = reflect_pad(image, size)
    side = min(MAX_HEATMAP_GRID, math.ceil(max(padded.size) / size))
    side += 1 - side % 2  # eval_crop_offsets spreads an odd grid (it has a centre)
    crops = processor.crops(padded, eval_crops=side * side)  # in reading order, row by row
    probabilities = []
    for start in range(0, len(crops), detector.batch_size):
        # a 4-D batch goes straight to the wrapped classifier: one score per crop
        probabilities += [p.prob_ai for p in detector.predict_pixels(crops[start : start + detector.batch_size])]
    grid = np.array(probabilities).reshape(side, side)
    return draw_heatmap(padded, grid, f"P(ai) of {side}x{side} crops of {size}px spread over the image")


def draw_heatmap(image: Image.Image, grid: np.ndarray, title: str) -> Image.Image:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scale = min(1.0, HEATMAP_DISPLAY_SIDE / max(image.size))
    shown = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    figure, axes = plt.subplots(figsize=(6, 6 * shown.height / shown.width + 0.6), dpi=100)
    axes.imshow(shown)
    overlay = axes.imshow(
        grid,
        cmap="coolwarm",
        vmin=0,
        vmax=1,
        alpha=0.45,
        interpolation="nearest",
        extent=(0, shown.width, shown.height, 0),
    )
    figure.colorbar(overlay, ax=axes, fraction=0.046, pad=0.04, label="P(ai)")
    axes.set_title(title, fontsize=10)
    axes.axis("off")
    figure.tight_layout()
    figure.canvas.draw()
    picture = Image.fromarray(np.asarray(figure.canvas.buffer_rgba())).convert("RGB")
    plt.close(figure)
    return picture


# --- the run's figures --------------------------------------------------------------------------------------


def run_files(model: str) -> Path | None:
    """The folder holding the run's figures and examples: the run folder, or those files fetched from the Hub."""
    if os.path.isdir(model):
        return Path(model)
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model, allow_patterns=[*FIGURE_FILES, f"{EXAMPLES_FOLDER}/*"]))
    except Exception:  # offline or private: the demo still works, without figures and examples
        return None


def figures_markdown(folder: Path | None, detector: Detector) -> str:
    lines = ["### What this detector measured", f"Preprocessing: {describe_preprocessing(detector.processor)}.", ""]
    evaluation = _read_json(folder, "evaluation.json")
    metrics = _read_json(folder, "metrics.json")
    if evaluation and isinstance(evaluation.get("clean"), dict):
        lines += evaluation_lines(evaluation)
    elif metrics and isinstance(metrics.get("test"), dict):
        lines += test_lines(metrics)
    else:
        lines += ["No figures were found with this model: nothing says how often it is right."]
    return "\n".join(lines)


def evaluation_lines(evaluation: dict) -> list[str]:
    clean = evaluation["clean"]
    lines = [
        f"**Test set** ({_counts(clean)}), with 95% intervals:",
        "",
        "| metric | value | 95% interval |",
        "| --- | --- | --- |",
    ]
    for key, name in KEY_METRICS:
        value = clean.get(key)
        if isinstance(value, dict) and value.get("value") is not None:
            interval = f"{_pct(value.get('low'))}–{_pct(value.get('high'))}" if value.get("low") is not None else ""
            lines.append(f"| {name} | {_pct(value['value'])} | {interval} |")
    per_dataset = evaluation.get("per_dataset") or {}
    if per_dataset:
        lines += ["", "**Each dataset of the test split**:", ""]
        lines += [
            f"- {name}: accuracy {_pct(_value(metrics.get('accuracy')))}, AUROC {_pct(_value(metrics.get('auroc')))}"
            for name, metrics in per_dataset.items()
        ]
    perturbations = evaluation.get("perturbations") or []
    if perturbations:
        lines += [
            "",
            "**Robustness** (the test set altered):",
            "",
            "| change | accuracy | AUROC |",
            "| --- | --- | --- |",
        ]
        for entry in perturbations:
            metrics = entry.get("metrics", {})
            change = (
                f"{entry.get('name')} {entry.get('param')}"
                if entry.get("param") is not None
                else str(entry.get("name"))
            )
            lines.append(
                f"| {change} | {_pct(_value(metrics.get('accuracy')))} | {_pct(_value(metrics.get('auroc')))} |"
            )
    return lines


def test_lines(summary: dict) -> list[str]:
    test = summary["test"]
    dataset = summary.get("dataset")
    where = f" of `{Path(dataset).name}`" if dataset else ""
    lines = [f"**Test split{where}** ({_counts(test)}):", "", "| metric | value |", "| --- | --- |"]
    lines += [f"| {name} | {_pct(test.get(key))} |" for key, name in KEY_METRICS if test.get(key) is not None]
    lines += ["", "No robustness or cross-source results with this run (`deepart-hf evaluate` writes them)."]
    return lines


def _read_json(folder: Path | None, name: str) -> dict | None:
    path = folder / name if folder else None
    if not path or not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _value(metric):
    return metric.get("value") if isinstance(metric, dict) else metric


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * float(value):.1f}%"


def _counts(metrics: dict) -> str:
    n = _value(metrics.get("n"))
    return (
        f"{n} images: {_value(metrics.get('n_human'))} human, {_value(metrics.get('n_ai'))} AI"
        if n is not None
        else "size unknown"
    )


def example_files(folder: Path | None, given: list[Path] | None) -> list[str]:
    if given is not None:
        missing = [str(path) for path in given if not path.is_file()]
        if missing:
            raise DeepArtError(f"--examples: no such file {missing[0]}")
        return [str(path) for path in given]
    examples = folder / EXAMPLES_FOLDER if folder else None
    if not examples or not examples.is_dir():
        return []
    return [str(path) for path in sorted(examples.iterdir()) if path.suffix.lower() in image_suffixes()]


def _uploaded_file(component, payload):
    """gr.Image's preprocess, handing over an uploaded file untouched: Gradio would open it with Pillow first and
    fail with a bare "Error" on a PDF or a truncated file, before the demo could say what is wrong. (Set on the
    instance: a subclass of a Gradio component makes Gradio write a .pyi file beside this module.)"""
    if payload is not None and payload.path and not (payload.url or "").startswith("data:"):
        return payload.path
    return type(component).preprocess(component, payload)  # a pasted image arrives as a data URL


# --- the page -----------------------------------------------------------------------------------------------


def build_demo(
    model: str | os.PathLike | Detector,
    *,
    examples: list[Path] | None = None,
    uncertain: float = DEFAULT_UNCERTAIN,
    figures_from: str | os.PathLike | None = None,
):
    """The Gradio Blocks of the demo (not launched). ``model`` is a run folder, a Hub id or a loaded Detector."""
    import gradio as gr

    check_uncertain(uncertain)
    detector = model if isinstance(model, Detector) else load_detector(str(model))
    folder = run_files(str(figures_from or model)) if figures_from or not isinstance(model, Detector) else None
    crop = isinstance(detector.processor, CropImageProcessor)

    def score(path):
        result = analyse(detector, path, uncertain)
        heatmap = gr.update(value=result.heatmap, visible=result.heatmap is not None)
        return result.probabilities, result.verdict, heatmap

    with gr.Blocks(title="deepart-hf detector") as demo:
        gr.Markdown(
            "# Is this image AI-generated?\nDrop or paste an image. The detector gives the probability of each "
            "class; the decision uses the threshold saved with it."
        )
        with gr.Row():
            with gr.Column(scale=3):
                upload = gr.Image(
                    type="filepath", sources=["upload", "clipboard"], label="image", height=340, elem_id="upload"
                )
                upload.preprocess = types.MethodType(_uploaded_file, upload)
                probabilities = gr.Label(
                    num_top_classes=len(detector.labels), label="probabilities", elem_id="probabilities"
                )
                verdict = gr.Markdown(elem_id="verdict")
                heatmap = gr.Image(
                    label="where the evidence is (P(ai) per crop)",
                    visible=False,
                    interactive=False,
                    height=420,
                    elem_id="heatmap",
                )
                paths = example_files(folder, examples)
                if paths:
                    gr.Examples(
                        paths, inputs=upload, label="examples from the test split" if examples is None else "examples"
                    )
            with gr.Column(scale=2):
                gr.Markdown(figures_markdown(folder, detector), elem_id="figures")
                if not crop:
                    gr.Markdown(
                        "This model looks at the whole image resized, so it gives no map of where the evidence is."
                    )
        upload.change(score, inputs=upload, outputs=[probabilities, verdict, heatmap])
    return demo
