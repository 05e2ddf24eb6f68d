"""Tests, effect sizes and intervals for comparing a feature between human and AI images.

Decisions:

* Paired data (a painting and its re-creation): the difference is AI − human per pair, tested with the
  Wilcoxon signed-rank test (pairs with a zero difference dropped, as Wilcoxon did). The effect size is the
  matched-pairs rank-biserial correlation, (R+ − R−) / (R+ + R−) over the ranks of |difference|: +1 when every
  re-creation is higher, −1 when every one is lower, 0 for no tendency; it is on the same scale for every
  feature, so features can be ranked by it.
* Unpaired data: Mann–Whitney U; the effect size is the rank-biserial correlation 2·P(ai > human) − 1 (ties
  count half), which is 2·AUROC − 1 of the feature used as a detector score. Distances: the Kolmogorov–Smirnov
  statistic and the Wasserstein distance in units of the pooled standard deviation.
* Intervals: percentile bootstrap (pairs resampled for paired data, each class resampled on its own for
  unpaired data).
* Several features are tested at once, so p-values are adjusted by Holm's step-down method, which controls the
  family-wise error rate without assuming independence (SciPy only ships Benjamini–Hochberg).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from ..constants import N_BOOTSTRAP

CONFIDENCE = 0.95
ALPHA = 0.05


def holm(p_values) -> np.ndarray:
    """Holm-adjusted p-values, in the input order: the i-th smallest of m is multiplied by (m − i + 1), made
    monotone, capped at 1. NaN p-values stay NaN and do not count towards m."""
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full_like(p, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    m = len(order)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted


def _percentile_interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2 * 100
    low, high = np.nanpercentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def paired_rank_biserial(differences: np.ndarray) -> np.ndarray:
    """Matched-pairs rank-biserial correlation of each row of ``differences`` (zeros dropped; 0 when all are)."""
    d = np.atleast_2d(np.asarray(differences, dtype=np.float64))
    magnitude = np.where(d == 0, np.nan, np.abs(d))
    ranks = stats.rankdata(magnitude, axis=1, nan_policy="omit")
    positive = np.nansum(np.where(d > 0, ranks, 0.0), axis=1)
    negative = np.nansum(np.where(d < 0, ranks, 0.0), axis=1)
    total = positive + negative
    return np.divide(positive - negative, total, out=np.zeros_like(total), where=total > 0)


def paired_comparison(
    human, ai, *, n_bootstrap: int = N_BOOTSTRAP, confidence: float = CONFIDENCE, seed: int = 0
) -> dict:
    """AI − human for matched pairs: medians, the Wilcoxon signed-rank test and the rank-biserial effect, with
    bootstrap intervals of the effect and of the median difference."""
    human, ai = np.asarray(human, dtype=np.float64), np.asarray(ai, dtype=np.float64)
    if human.shape != ai.shape or human.ndim != 1:
        raise ValueError(f"paired values must be two 1-D arrays of one length, got {human.shape} and {ai.shape}")
    differences = ai - human
    nonzero = int(np.count_nonzero(differences))
    if nonzero == 0:
        statistic, p_value = 0.0, 1.0  # no pair differs: nothing to test, and no evidence of a difference
    else:
        result = stats.wilcoxon(ai, human, zero_method="wilcox")
        statistic, p_value = float(result.statistic), float(result.pvalue)
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(differences), size=(n_bootstrap, len(differences)))
    resampled = differences[rows]
    effect_low, effect_high = _percentile_interval(paired_rank_biserial(resampled), confidence)
    median_low, median_high = _percentile_interval(np.median(resampled, axis=1), confidence)
    return {
        "n_pairs": len(differences),
        "n_nonzero": nonzero,
        "human_median": float(np.median(human)),
        "ai_median": float(np.median(ai)),
        "median_difference": {"value": float(np.median(differences)), "low": median_low, "high": median_high},
        "effect": {"value": float(paired_rank_biserial(differences)[0]), "low": effect_low, "high": effect_high},
        "share_ai_higher": float(np.mean(differences > 0)),
        # mean difference in standard deviations of the differences (Cohen's d_z): orders features that all
        # reach |r| = 1, where the rank effect cannot
        "standardized_difference": float(differences.mean() / differences.std(ddof=1))
        if nonzero and differences.std(ddof=1) > 0
        else 0.0,
        "test": "Wilcoxon signed-rank (two-sided, zero differences dropped)",
        "statistic": statistic,
        "p_value": p_value,
    }


def rank_biserial(human: np.ndarray, ai: np.ndarray) -> np.ndarray:
    """2·P(ai > human) − 1 (ties half) for each row of human (B, n_h) against the same row of ai (B, n_a)."""
    human, ai = np.atleast_2d(human), np.atleast_2d(ai)
    ranks = stats.rankdata(np.concatenate([human, ai], axis=1), axis=1)
    n_human, n_ai = human.shape[1], ai.shape[1]
    u_ai = ranks[:, n_human:].sum(axis=1) - n_ai * (n_ai + 1) / 2
    return 2 * u_ai / (n_human * n_ai) - 1


def unpaired_comparison(
    human, ai, *, n_bootstrap: int = N_BOOTSTRAP, confidence: float = CONFIDENCE, seed: int = 0
) -> dict:
    """Human against AI images with no pairing: Mann–Whitney U, rank-biserial effect with a stratified bootstrap
    interval, the KS statistic and the Wasserstein distance in pooled standard deviations."""
    human, ai = np.asarray(human, dtype=np.float64), np.asarray(ai, dtype=np.float64)
    if len(human) == 0 or len(ai) == 0:
        raise ValueError(f"both classes need values, got {len(human)} human and {len(ai)} ai")
    if np.ptp(np.concatenate([human, ai])) == 0:
        statistic, p_value = len(human) * len(ai) / 2, 1.0  # every value equal: nothing to rank
    else:
        result = stats.mannwhitneyu(ai, human, alternative="two-sided")
        statistic, p_value = float(result.statistic), float(result.pvalue)
    rng = np.random.default_rng(seed)
    human_rows = human[rng.integers(0, len(human), size=(n_bootstrap, len(human)))]
    ai_rows = ai[rng.integers(0, len(ai), size=(n_bootstrap, len(ai)))]
    low, high = _percentile_interval(rank_biserial(human_rows, ai_rows), confidence)
    pooled = (
        np.sqrt(
            (human.var(ddof=1) * (len(human) - 1) + ai.var(ddof=1) * (len(ai) - 1)) / max(len(human) + len(ai) - 2, 1)
        )
        if len(human) + len(ai) > 2
        else 0.0
    )
    wasserstein = stats.wasserstein_distance(human, ai)
    return {
        "n_human": len(human),
        "n_ai": len(ai),
        "human_median": float(np.median(human)),
        "ai_median": float(np.median(ai)),
        "effect": {"value": float(rank_biserial(human[None], ai[None])[0]), "low": low, "high": high},
        "test": "Mann-Whitney U (two-sided)",
        "statistic": statistic,
        "p_value": p_value,
        "ks_statistic": float(stats.ks_2samp(human, ai).statistic),
        "wasserstein_sd": float(wasserstein / pooled) if pooled > 0 else 0.0,
    }
