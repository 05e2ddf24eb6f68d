"""The calibration a detector carries in its config: a temperature for its probabilities and a decision threshold.

Fitted after training on the validation split (``evaluation/calibration.py``) and saved in ``config.json`` under
``deepart_calibration``, so every consumer (evaluation, ``predict``, the demo, ``load_detector``) applies the same
numbers. A model without one is uncalibrated: temperature 1 and the argmax threshold (log-odds 0, P(ai) = 0.5).

The temperature is already in the weights (the classification head is divided by it when the calibration is
fitted), so the model's own probabilities are the calibrated ones, for ``pipeline()`` too; it is recorded here
for the card. The threshold is the one number a consumer must apply itself.

The threshold is kept as log-odds, the exact score (``evaluation/metrics.py``): a probability near 1 cannot tell
two confident scores apart, and the threshold for a 1% false-positive rate often lies among them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

CONFIG_KEY = "deepart_calibration"


@dataclass(frozen=True)
class Calibration:
    temperature: float = 1.0  # already divided into the classification head's weights
    threshold_log_odds: float = 0.0  # "ai" when the model's log-odds are >= this
    target_fpr: float | None = None
    method: str = "none"  # how the threshold was chosen, in words, for the card and the console
    details: dict = field(default_factory=dict)  # what the fit measured (validation counts, ECE before/after...)

    def __post_init__(self):
        if not (self.temperature > 0 and math.isfinite(self.temperature)):
            raise ValueError(f"temperature must be a positive finite number, got {self.temperature}")

    @property
    def is_calibrated(self) -> bool:
        return not self.method.startswith("none")

    @property
    def threshold(self) -> float:
        """The decision threshold as a calibrated P(ai)."""
        return 1.0 / (1.0 + math.exp(-self.threshold_log_odds)) if self.threshold_log_odds > -700 else 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_config(cls, config) -> Calibration:
        stored = getattr(config, CONFIG_KEY, None)
        return cls(**stored) if stored else cls()

    def save_to(self, config) -> None:
        setattr(config, CONFIG_KEY, self.to_dict())
