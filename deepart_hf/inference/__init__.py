"""saved detector -> predictions for people: the detector object (and, later, the command line and the demo)."""

from .detector import Detector, Prediction, load_detector

__all__ = ["Detector", "Prediction", "load_detector"]
