"""The DetectorMetric evaluate module; ``deepart_hf.evaluation.metrics.load_detector_metric()`` loads it through evaluate."""

from .detector_metric import DetectorMetric

__all__ = ["DetectorMetric"]
