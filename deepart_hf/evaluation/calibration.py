"""Calibrated decisions: a temperature for the probabilities and a threshold for a target false-positive rate,
both fitted on the validation split after training.

Decisions:

* Argmax at P(ai) = 0.5 is not a decision rule a reviewer can defend: across sources it can call every human
  artwork AI-made. Calling a person's work AI-made is the costly error, so the threshold is chosen to keep the
  false-positive rate (human images called ai) on new images of the validation split's kind within ``target_fpr``.
* Temperature scaling (Guo et al., 2017) fits one T > 0 by minimising the validation log-loss. It is baked into
  the classification head (weights and bias divided by T), so every consumer of the saved model, plain
  ``pipeline()`` included, gives calibrated probabilities without knowing about it. For a crop detector the
  head is the inner model's, so each crop's logits are tempered before the crops are averaged, and the fit uses
  the per-crop logits to model exactly that.
* The threshold is stored as calibrated log-odds (``models/calibration.py``) and follows the split-conformal rule:
  with n human images it lies just above the ceil((n + 1)(1 - target))-th smallest human score. Allowing
  floor(target * n) of the n above it instead keeps their own FPR within the target, but the FPR on new images of
  the same collection is then (k + 1)/(n + 1) on average, above the target (9.5% from 20 images at 5%); the
  conformal rule keeps that expectation at or below the target for every n. One implementation serves training
  and ``deepart-hf calibrate``. Below ``minimum_human_images`` (19 for 5%) the target cannot be served: training
  falls back to the calibrated argmax (P(ai) = 0.5) and says so, naming the smallest target the images serve.
"""

from __future__ import annotations

import functools
import logging
import math

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from scipy.special import log_expit, logsumexp
from scipy.stats import beta
from torch.utils.data import DataLoader

from ..constants import AI, DEFAULT_TARGET_FPR, HUMAN
from ..errors import DeepArtError
from ..models.calibration import Calibration
from ..models.heads import classifier_head
from ..models.preprocessing import collate

logger = logging.getLogger(__name__)

RELIABILITY_BINS = 10


def crop_logits(model, dataset, batch_size: int = 16, device=None) -> tuple[np.ndarray, np.ndarray]:
    """(logits per image and crop, (N, crops, 2) float64; labels (N,)) for a split whose transform gives pixel
    values. A plain model has one "crop"; a crop detector's inner model scores each of its crops."""
    from ..models import CropDetector

    device = device or next(model.parameters()).device
    inner = model.detector if isinstance(model, CropDetector) else model
    was_training = model.training
    model.eval()
    logits, labels = [], []
    with torch.inference_mode():
        for batch in DataLoader(dataset, batch_size=batch_size, collate_fn=collate):
            pixel_values = batch["pixel_values"].to(device)
            views = pixel_values.flatten(0, 1) if pixel_values.ndim == 5 else pixel_values
            scores = inner(pixel_values=views).logits.float().cpu().numpy().astype(np.float64)
            logits.append(scores.reshape(pixel_values.shape[0], -1, scores.shape[-1]))
            labels.append(batch["labels"].numpy())
    model.train(was_training)
    return np.concatenate(logits), np.concatenate(labels)


def tempered_log_odds(logits: np.ndarray, temperature: float) -> np.ndarray:
    """log(P(ai) / P(human)) of each image when every crop's logits are divided by ``temperature`` and the crops'
    probabilities are averaged (for one crop: the logit margin over T)."""
    logits = np.asarray(logits, dtype=np.float64) / temperature
    log_probs = logits - logsumexp(logits, axis=-1, keepdims=True)  # per crop
    mean_log_probs = logsumexp(log_probs, axis=1) - math.log(logits.shape[1])  # log of the crops' mean
    return mean_log_probs[:, AI] - mean_log_probs[:, HUMAN]


def log_loss(labels: np.ndarray, log_odds: np.ndarray) -> float:
    signed = np.where(labels == AI, log_odds, -log_odds)
    return float(-np.mean(log_expit(signed)))


TEMPERATURE_BOUNDS = (1e-2, 1e2)
# Below this many validation images of either class, one image decides the fitted T (the DeepArt sample's 4 + 4
# gave T = 0.04, every probability 0 or 1): the model keeps its own scale.
MIN_PER_CLASS_FOR_TEMPERATURE = 10


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T that minimises the log-loss, searched on log T within TEMPERATURE_BOUNDS."""
    result = minimize_scalar(
        lambda log_t: log_loss(labels, tempered_log_odds(logits, math.exp(log_t))),
        bounds=tuple(math.log(b) for b in TEMPERATURE_BOUNDS),
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(math.exp(result.x))


def at_bound(temperature: float) -> bool:
    """A fit that runs to the edge of the search has no optimum: a validation split the model separates
    perfectly pulls T towards 0, one on which its scores carry no information pulls T towards infinity."""
    low, high = TEMPERATURE_BOUNDS
    return temperature <= low * 1.05 or temperature >= high / 1.05


def conformal_allowed(n_human: int, target_fpr: float) -> int:
    """k, the known human images that may score at or above the threshold: n - ceil((n + 1)(1 - target)), which is
    floor((n + 1) * target) - 1; negative when n images cannot serve the target."""
    return int(math.floor((n_human + 1) * target_fpr + 1e-9)) - 1


def minimum_human_images(target_fpr: float) -> int:
    """The fewest human images that serve ``target_fpr``: the smallest n with (n + 1) * target >= 1."""
    return math.ceil(1.0 / target_fpr - 1e-9) - 1


@functools.cache
def expected_fpr(n_human: int, target_fpr: float) -> tuple[float, float]:
    """(mean, 95% upper bound) of the FPR on new human images of the same collection, for the threshold fitted on
    n of them. The threshold sits just above the (k+1)-th highest of n scores, so for exchangeable, untied scores
    the share of new human scores at or above it is Beta(k + 1, n - k) distributed, whatever the model: mean
    (k + 1) / (n + 1), which the conformal k keeps at or below the target."""
    allowed = conformal_allowed(n_human, target_fpr)
    distribution = beta(allowed + 1, n_human - allowed)
    return float(distribution.mean()), float(distribution.ppf(0.95))


def percent(share: float) -> str:
    return f"{share * 100:.3g}%"


def threshold_for_fpr(
    labels: np.ndarray, log_odds: np.ndarray, target_fpr: float, images: str = "validation"
) -> tuple[float | None, str]:
    """The split-conformal threshold for ``target_fpr`` on these scores: just above the ceil((n + 1)(1 - target))-th
    smallest of the n human scores, so that on new human images of the same collection the expected FPR is at or
    below the target. None when the human images are too few to serve the target (or absent). Returns (threshold,
    how it was chosen and what it promises, in words); ``images`` names the images in that text."""
    human = np.sort(log_odds[labels == HUMAN])[::-1]
    n_human = len(human)
    if n_human == 0:
        return None, f"no human images in the {images} split"
    allowed = conformal_allowed(n_human, target_fpr)  # human images that may score at or above t
    if allowed < 0:
        return None, (
            f"{n_human} human {images} images can serve a false-positive target of {percent(1 / (n_human + 1))} "
            f"or more, not {percent(target_fpr)}, which needs at least {minimum_human_images(target_fpr)} human images"
        )
    # Just above the (allowed+1)-th highest human score: it and every lower human score fall below t.
    threshold = float(np.nextafter(human[allowed], np.inf))
    mean, upper = expected_fpr(n_human, target_fpr)
    return threshold, (
        f"conformal threshold for FPR <= {percent(target_fpr)} ({allowed} of {n_human} human {images} images at or "
        f"above it): expected FPR on new human images of the same collection {mean:.1%}, 95% upper bound {upper:.1%}"
    )


def expected_calibration_error(labels: np.ndarray, log_odds: np.ndarray, bins: int = RELIABILITY_BINS) -> float:
    """Binary ECE on P(ai): over equal-width bins, the share of images times |observed ai rate - mean P(ai)|."""
    probabilities = 1.0 / (1.0 + np.exp(-np.clip(log_odds, -700, 700)))
    which = np.minimum((probabilities * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            error += inside.mean() * abs((labels[inside] == AI).mean() - probabilities[inside].mean())
    return float(error)


def fit_calibration(logits: np.ndarray, labels: np.ndarray, target_fpr: float = DEFAULT_TARGET_FPR) -> Calibration:
    """Temperature and threshold from validation logits (N, crops, 2) and labels."""
    if not 0.0 < target_fpr < 1.0:
        raise DeepArtError(f"--target_fpr must be between 0 and 1, got {target_fpr}")
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0 or len(np.unique(labels)) < 2:
        return Calibration(
            method="none: the validation split needs human and ai images to calibrate", target_fpr=target_fpr
        )
    fitted = fit_temperature(logits, labels)
    too_few = min(int((labels == HUMAN).sum()), int((labels == AI).sum())) < MIN_PER_CLASS_FOR_TEMPERATURE
    # Without an optimum, or from a handful of images, the fitted T describes the split, not the model.
    temperature = 1.0 if too_few or at_bound(fitted) else fitted
    before, after = tempered_log_odds(logits, 1.0), tempered_log_odds(logits, temperature)
    threshold, how = threshold_for_fpr(labels, after, target_fpr)
    fallback = threshold is None
    details = {
        "validation_images": int(len(labels)),
        "validation_human": int((labels == HUMAN).sum()),
        "validation_ai": int((labels == AI).sum()),
        "validation_log_loss_before": log_loss(labels, before),
        "validation_log_loss_after": log_loss(labels, after),
        "validation_ece_before": expected_calibration_error(labels, before),
        "validation_ece_after": expected_calibration_error(labels, after),
    }
    if not fallback:
        details["expected_fpr_on_new_images"], details["fpr_upper_95_on_new_images"] = expected_fpr(
            details["validation_human"], target_fpr
        )
        details["validation_fpr_at_threshold"] = float(np.mean(after[labels == HUMAN] >= threshold))
        details["validation_tpr_at_threshold"] = float(np.mean(after[labels == AI] >= threshold))
    if too_few:
        scaling = (
            f"temperature kept at 1: fewer than {MIN_PER_CLASS_FOR_TEMPERATURE} validation images of a class "
            f"(the fit would give T = {fitted:.3g})"
        )
    elif temperature != fitted:
        scaling = (
            f"temperature kept at 1: the validation log-loss has no minimum (it keeps falling towards T = {fitted:.3g})"
        )
    else:
        scaling = "temperature scaling"
    method = f"{scaling}; fallback to the argmax (P(ai) >= 0.5): {how}" if fallback else f"{scaling}; {how}"
    details["fitted_temperature"] = fitted
    return Calibration(temperature, 0.0 if fallback else threshold, target_fpr, method, details)


def apply_temperature(model, temperature: float) -> None:
    """Divide the classification head's weights and bias by T: the model's logits become logits / T."""
    head = classifier_head(model)
    if not isinstance(head, torch.nn.Linear):
        raise DeepArtError(
            f"cannot bake a temperature into a {type(head).__name__} head; only a linear head can be tempered"
        )
    with torch.no_grad():
        head.weight.div_(temperature)
        if head.bias is not None:
            head.bias.div_(temperature)


def calibrate(
    model,
    validation=None,
    target_fpr: float = DEFAULT_TARGET_FPR,
    batch_size: int = 16,
    *,
    logits: tuple[np.ndarray, np.ndarray] | None = None,
) -> Calibration:
    """Fit on the validation split, bake the temperature into ``model`` and store the calibration in its config.
    ``logits``: the split's (logits (N, crops, 2), labels) as ``crop_logits`` gives them, computed already (a
    linear probe's head on its cached validation features), instead of running ``model`` over ``validation``."""
    if logits is None:
        logits = crop_logits(model, validation, batch_size)
    logits, labels = logits
    calibration = fit_calibration(logits, labels, target_fpr)
    if calibration.temperature != 1.0:
        apply_temperature(model, calibration.temperature)
    calibration.save_to(model.config)
    return calibration


def describe_calibration(calibration: Calibration) -> str:
    if not calibration.is_calibrated:
        return "uncalibrated: argmax (P(ai) >= 0.5)"
    baked = " (baked into the head)" if calibration.temperature != 1.0 else ""
    return (
        f"temperature {calibration.temperature:.3g}{baked}; decision P(ai) >= {calibration.threshold:.4g} "
        f"(log-odds {calibration.threshold_log_odds:.4g}); {calibration.method}"
    )
