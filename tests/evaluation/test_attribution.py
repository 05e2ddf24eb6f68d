"""Attribution metrics on hand-made logits: K-class figures, and P(ai) = 1 - P(real) for the detector metric."""

import numpy as np
import pytest
from PIL import Image

from deepart_hf.evaluation.attribution import attribution_metrics
from deepart_hf.evaluation.plots import plot_confusion_matrix
from deepart_hf.models.scores import attribution_log_odds_ai

NAMES = ["real", "SD_XL", "Dalle3"]
# Six images: true classes 0 0 1 1 2 2; predicted (arg-max) 0 1 1 1 2 0.
LOGITS = np.log(np.array([
    [0.8, 0.1, 0.1],
    [0.3, 0.4, 0.3],  # arg-max SD_XL, and P(ai) = 0.7: a real photograph called AI
    [0.1, 0.8, 0.1],
    [0.2, 0.5, 0.3],
    [0.1, 0.2, 0.7],
    [0.4, 0.3, 0.3],  # arg-max real but P(ai) = 0.6: the detector decision says AI
]))  # fmt: skip
REFERENCES = [0, 0, 1, 1, 2, 2]


def test_k_class_figures_by_hand():
    results = attribution_metrics(LOGITS, REFERENCES, NAMES)
    assert results["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert results["accuracy"] == pytest.approx(4 / 6)
    assert results["per_class_accuracy"] == pytest.approx({"real": 0.5, "SD_XL": 1.0, "Dalle3": 0.5})
    # F1 per class: real P 1/2 R 1/2 -> 1/2; SD_XL P 2/3 R 1 -> 4/5; Dalle3 P 1 R 1/2 -> 2/3
    assert results["macro_f1"] == pytest.approx((1 / 2 + 4 / 5 + 2 / 3) / 3)


def test_human_vs_ai_comes_from_one_minus_p_real():
    log_odds = attribution_log_odds_ai(LOGITS, NAMES)
    p_ai = 1 / (1 + np.exp(-log_odds))
    assert p_ai == pytest.approx([0.2, 0.7, 0.9, 0.8, 0.9, 0.6])
    detection = attribution_metrics(LOGITS, REFERENCES, NAMES)["detection"]
    # decisions P(ai) > 1/2: human images -> [human, ai]; ai images -> all ai
    assert detection["human_accuracy"] == pytest.approx(0.5) and detection["ai_accuracy"] == pytest.approx(1.0)
    # ranking: the 4 ai scores (0.9, 0.8, 0.9, 0.6) against the human ones (0.2, 0.7): 7 of 8 pairs in order
    assert detection["auroc"] == pytest.approx(7 / 8)


def test_saturated_logits_keep_their_order_and_a_missing_real_class_is_refused():
    logits = np.array([[0.0, 60.0, 50.0], [0.0, 50.0, 40.0]])
    assert attribution_log_odds_ai(logits, NAMES) == pytest.approx(
        [60 + np.log1p(np.exp(-10)), 50 + np.log1p(np.exp(-10))]
    )
    with pytest.raises(ValueError, match="no 'real' class"):
        attribution_log_odds_ai(logits, ["a", "b", "c"])
    assert "detection" not in attribution_metrics(logits, [1, 2], ["a", "b", "c"])


def test_k_by_k_confusion_matrix_plot(tmp_path):
    path = plot_confusion_matrix(
        attribution_metrics(LOGITS, REFERENCES, NAMES)["confusion_matrix"], tmp_path / "cm.png", labels=NAMES
    )
    with Image.open(path) as image:
        assert image.size[0] > 400 and image.size[1] > 400
    with pytest.raises(ValueError, match="must be 3x3"):
        plot_confusion_matrix([[1, 0], [0, 1]], tmp_path / "bad.png", labels=NAMES)
