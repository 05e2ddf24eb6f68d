"""The words a decision is shown with, and the band where none is made: shared by the detector, the command line
and the demo (a plain module, so that argument definitions can use it without loading torch)."""

import math

from ..constants import AI, ID2LABEL
from ..errors import DeepArtError

UNCERTAIN, ERROR = "uncertain", "error"
# What a person reads beside the number: a score is evidence, not a verdict.
DECISION_WORDS = {ID2LABEL[AI]: "likely AI-generated", ID2LABEL[1 - AI]: "likely human-made", UNCERTAIN: "uncertain"}
# Half-width of the "uncertain" band around the threshold, in log-odds: a band in P(ai) means nothing at a
# threshold near 0 or 1 (around P(ai) >= 0.033, +-0.1 leaves no room below for "human"), while log-odds within 1
# of the threshold's are odds within a factor e (2.7) of it, at any threshold: P(ai) 0.27-0.73 around 0.5,
# 0.012-0.085 around 0.033. The one default: Prediction.decision(), Detector.predict_rows(), predict and the demo.
DEFAULT_UNCERTAIN = 1.0
UNCERTAIN_HELP = (
    "say 'uncertain' when the log-odds log(P(ai)/P(human)) lie within W of the threshold's, i.e. the odds within "
    f"a factor e^W of the threshold's (default {DEFAULT_UNCERTAIN:g}: P(ai) 0.27-0.73 around a threshold of 0.5; "
    "0 = always decide)"
)


def add_uncertain_argument(parser) -> None:
    """``--uncertain W``, as ``predict`` and the demo take it (an ``argparse`` parser)."""
    parser.add_argument("--uncertain", type=float, default=DEFAULT_UNCERTAIN, metavar="W", help=UNCERTAIN_HELP)


def check_uncertain(width: float) -> float:
    """The --uncertain half-width, in log-odds: any finite W >= 0."""
    if not (math.isfinite(width) and width >= 0):
        raise DeepArtError(f"--uncertain must be a finite number >= 0 (log-odds), got {width}")
    return width


def _sigmoid(log_odds: float) -> float:
    # Written for both signs so that neither branch overflows.
    if log_odds >= 0:
        return 1.0 / (1.0 + math.exp(-log_odds))
    odds = math.exp(log_odds)
    return odds / (1.0 + odds)


def uncertain_interval(threshold_log_odds: float, width: float) -> tuple[float, float]:
    """The P(ai) range called "uncertain" around a threshold: log-odds within ``width`` of it."""
    return _sigmoid(threshold_log_odds - width), _sigmoid(threshold_log_odds + width)
