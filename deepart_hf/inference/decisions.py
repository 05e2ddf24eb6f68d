"""The words a decision is shown with, and the default band where none is made: shared by the detector, the
command line and the demo (a plain module, so that argument definitions can use it without loading torch)."""

from ..constants import AI, ID2LABEL

UNCERTAIN, ERROR = "uncertain", "error"
# What a person reads beside the number: a score is evidence, not a verdict.
DECISION_WORDS = {ID2LABEL[AI]: "likely AI-generated", ID2LABEL[1 - AI]: "likely human-made", UNCERTAIN: "uncertain"}
DEFAULT_UNCERTAIN = 0.1  # half-width of the "uncertain" band around the threshold, in P(ai)
