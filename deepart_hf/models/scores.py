"""What a detector's scores mean: log-odds of "ai", probabilities and decisions, for two classes and for an
attribution model's K classes.

Everything that turns logits into a score or a decision lives here, below inference and evaluation, so a loaded
detector, the report and the metrics all read the same numbers.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, logsumexp

from ..constants import AI, HUMAN, LABELS, REAL_GENERATOR


def _logits_array(logits) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[1] != len(LABELS):
        raise ValueError(f"logits must have shape (N, {len(LABELS)}) for labels {LABELS}, got {logits.shape}")
    return logits


def log_odds_from_logits(logits: np.ndarray) -> np.ndarray:
    """log(P(ai) / P(human)) for each row of (N, 2) logits, in float64: the score every metric ranks by.

    A probability saturates: a logit gap of 40 gives P(ai) = 1 - 4e-18, which no float tells apart from a gap
    of 50. The log-odds are the gap itself, so confident predictions keep their order.
    """
    logits = _logits_array(logits)
    return logits[:, AI] - logits[:, HUMAN]


def probabilities_from_log_odds(log_odds: np.ndarray) -> np.ndarray:
    """P(ai) = sigmoid(log-odds), without overflow."""
    return expit(np.asarray(log_odds, dtype=np.float64))


def probabilities_from_logits(logits: np.ndarray) -> np.ndarray:
    """Probability of "ai" for each row of (N, 2) logits (a softmax, computed as the sigmoid of the log-odds)."""
    return probabilities_from_log_odds(log_odds_from_logits(logits))


def decisions_at(log_odds, threshold_log_odds: float = 0.0) -> np.ndarray:
    """Class id per image for the rule "ai if log-odds >= threshold" (0 is the argmax, ties going to ai)."""
    return np.where(np.asarray(log_odds, dtype=np.float64) >= threshold_log_odds, AI, HUMAN).astype(np.int64)


def predictions_from_logits(logits: np.ndarray) -> np.ndarray:
    """Predicted class id per row; equal logits go to the lower id (human), as in ``torch.argmax``."""
    return _logits_array(logits).argmax(axis=1)


def attribution_log_odds_ai(logits, names) -> np.ndarray:
    """log(P(ai) / P(real)) per row of (N, K) logits whose classes are ``names`` (one of them ``real``)."""
    logits = np.asarray(logits, dtype=np.float64)
    names = list(names)
    if logits.ndim != 2 or logits.shape[1] != len(names):
        raise ValueError(f"logits must have shape (N, {len(names)}) for classes {names}, got {logits.shape}")
    if REAL_GENERATOR not in names:
        raise ValueError(
            f"classes {names} have no {REAL_GENERATOR!r} class: P(ai) = 1 - P({REAL_GENERATOR}) is undefined"
        )
    real = names.index(REAL_GENERATOR)
    return logsumexp(np.delete(logits, real, axis=1), axis=1) - logits[:, real]
