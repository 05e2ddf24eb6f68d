"""DetectorMetric, the evaluate module, checked number by number against scikit-learn on float64 scores."""

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from deepart_hf.constants import AI, HUMAN, ID2LABEL
from deepart_hf.evaluation import metrics as dm
from deepart_hf.evaluation.detector_metric.detector_metric import DetectorMetric
from deepart_hf.models import scores

METRIC_KEYS = [
    "accuracy",
    "human_accuracy",
    "ai_accuracy",
    "mean_accuracy",
    "auroc",
    "average_precision",
    "tpr_at_1_fpr",
    "tpr_at_5_fpr",
    "confusion_matrix",
    "n",
    "n_human",
    "n_ai",
]
NEEDS_BOTH_CLASSES = ["mean_accuracy", "auroc", "average_precision", "tpr_at_1_fpr", "tpr_at_5_fpr"]


@pytest.fixture(scope="module")
def loaded_metric():
    """The metric as users get it: evaluate.load of the packaged folder, offline."""
    return dm.load_detector_metric()


@pytest.fixture(scope="module")
def direct_metric():
    return DetectorMetric(keep_in_memory=True)


def sklearn_reference(references, predictions, scores) -> dict:
    """What every DetectorMetric number should be, computed by scikit-learn."""
    fpr, tpr, _ = skm.roc_curve(references, scores, pos_label=AI, drop_intermediate=False)
    per_class = skm.recall_score(references, predictions, labels=[HUMAN, AI], average=None)
    return {
        "accuracy": skm.accuracy_score(references, predictions),
        "human_accuracy": per_class[HUMAN],
        "ai_accuracy": per_class[AI],
        "mean_accuracy": skm.balanced_accuracy_score(references, predictions),
        "auroc": skm.roc_auc_score(references, scores),
        "average_precision": skm.average_precision_score(references, scores, pos_label=AI),
        "tpr_at_1_fpr": tpr[fpr <= 0.01].max(),
        "tpr_at_5_fpr": tpr[fpr <= 0.05].max(),
        "confusion_matrix": skm.confusion_matrix(references, predictions, labels=[HUMAN, AI]).tolist(),
        "n": len(references),
        "n_human": int(np.sum(np.asarray(references) == HUMAN)),
        "n_ai": int(np.sum(np.asarray(references) == AI)),
    }


def assert_matches_sklearn(results, references, predictions, scores):
    # The scores as given, in float64: the metric must neither create ties (float32) nor break them.
    expected = sklearn_reference(references, predictions, np.asarray(scores, dtype=np.float64))
    assert list(results) == METRIC_KEYS
    for key in METRIC_KEYS:
        if isinstance(expected[key], (list, int)):
            assert results[key] == expected[key], key
        else:
            assert results[key] == pytest.approx(expected[key], abs=1e-9), key


def random_case(seed, n=500, ai_share=0.4, tie_decimals=None):
    rng = np.random.default_rng(seed)
    references = (rng.random(n) < ai_share).astype(int)
    # Informative but imperfect scores: AI images score higher on average.
    scores = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.5 * (references - 0.5))))
    if tie_decimals is not None:
        scores = np.round(scores, tie_decimals)
    predictions = (scores >= 0.5).astype(int)
    return references, predictions, scores


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_inputs_match_sklearn(loaded_metric, seed):
    references, predictions, scores = random_case(seed)
    results = loaded_metric.compute(predictions=predictions, references=references, scores=scores)
    assert_matches_sklearn(results, references, predictions, scores)


@pytest.mark.parametrize("decimals", [0, 1, 2])
def test_tied_scores_match_sklearn(loaded_metric, decimals):
    # Rounding to 0 decimals leaves only the scores 0 and 1: almost every image is in a tie.
    references, predictions, scores = random_case(seed=7, tie_decimals=decimals)
    results = loaded_metric.compute(predictions=predictions, references=references, scores=scores)
    assert_matches_sklearn(results, references, predictions, scores)


def test_hand_made_case_by_hand(loaded_metric):
    references = [HUMAN, HUMAN, HUMAN, HUMAN, AI, AI]
    predictions = [HUMAN, HUMAN, HUMAN, AI, AI, HUMAN]
    # One human-ai tie at 0.6: it counts half a correctly ranked pair.
    scores = [0.1, 0.2, 0.3, 0.6, 0.9, 0.6]
    results = loaded_metric.compute(predictions=predictions, references=references, scores=scores)

    assert results["confusion_matrix"] == [[3, 1], [1, 1]]
    assert results["human_accuracy"] == pytest.approx(3 / 4)
    assert results["ai_accuracy"] == pytest.approx(1 / 2)
    assert results["mean_accuracy"] == pytest.approx(5 / 8)
    assert results["accuracy"] == pytest.approx(4 / 6)
    # Pairs (ai, human) ranked right: 0.9 beats all 4; 0.6 beats 3 and ties 1 -> (4 + 3.5) / 8.
    assert results["auroc"] == pytest.approx(7.5 / 8)
    # Thresholds 0.9 -> P=1, R=1/2; 0.6 (tie admits both) -> P=2/3, R=1: AP = 1/2*1 + 1/2*2/3.
    assert results["average_precision"] == pytest.approx(0.5 + 1 / 3)
    # Any FPR > 0 costs at least 1/4 here, so both budgets only allow the threshold 0.9.
    assert results["tpr_at_1_fpr"] == results["tpr_at_5_fpr"] == pytest.approx(0.5)
    assert_matches_sklearn(results, references, predictions, scores)


def test_tpr_at_fpr_is_the_best_tpr_within_the_budget(loaded_metric):
    # 100 human images: each false positive costs exactly 1% FPR, and exactly 1% is within the 1% budget.
    references = [HUMAN] * 100 + [AI] * 10
    human_scores = [0.99] + [0.01 * i for i in range(99)]  # 0.99, then 0.00 .. 0.98
    ai_scores = [0.995] * 5 + [0.975] * 3 + [0.5] * 2
    scores = np.asarray(human_scores + ai_scores)
    predictions = (scores >= 0.5).astype(int)
    results = loaded_metric.compute(predictions=predictions, references=references, scores=scores)
    # FPR 1% (threshold 0.99) still only finds the five 0.995 images.
    assert results["tpr_at_1_fpr"] == pytest.approx(0.5)
    # Threshold 0.975 admits two humans (0.99, 0.98) and three more ai images; 0.95 would reach 5% FPR
    # without finding any more ai, so the best within 5% is 0.8.
    assert results["tpr_at_5_fpr"] == pytest.approx(0.8)
    assert_matches_sklearn(results, references, predictions, scores)


def overconfident_case(seed=0):
    """A confident detector that is confidently wrong on a few human images: logit gaps of 15 to 40 (the
    probabilities sit within 1e-6 of 0 or 1), 6 of 200 human images scored like AI images."""
    rng = np.random.default_rng(seed)
    references = np.array([HUMAN] * 200 + [AI] * 200)
    gaps = rng.uniform(15, 40, size=400)
    log_odds = np.where(references == AI, gaps, -gaps)
    log_odds[:6] = rng.uniform(15, 40, size=6)  # confidently wrong
    return references, (log_odds > 0).astype(int), log_odds


def test_overconfident_probabilities_match_sklearn_in_float64(loaded_metric):
    references, predictions, log_odds = overconfident_case()
    probabilities = scores.probabilities_from_log_odds(log_odds)
    results = loaded_metric.compute(predictions=predictions, references=references, scores=probabilities)
    assert_matches_sklearn(results, references, predictions, probabilities)
    # The case is one where precision matters: stored as float32, these probabilities tie and the metric changes.
    as_float32 = sklearn_reference(references, predictions, probabilities.astype(np.float32))
    assert as_float32["tpr_at_1_fpr"] != pytest.approx(results["tpr_at_1_fpr"], abs=0.05)


def test_overconfident_log_odds_keep_every_score_apart(loaded_metric):
    references, predictions, log_odds = overconfident_case(seed=1)
    results = loaded_metric.compute(predictions=predictions, references=references, scores=log_odds)
    assert_matches_sklearn(results, references, predictions, log_odds)
    # Ranked by log-odds, the 6 wrong human images cost exactly what their scores say: TPR@1%FPR counts the AI
    # images above the third-highest of them (1% of 200 human images = 2 false positives allowed).
    third_wrong = np.sort(log_odds[:6])[-3]
    assert results["tpr_at_1_fpr"] == pytest.approx(np.mean(log_odds[references == AI] > third_wrong))


@pytest.mark.parametrize("only", [HUMAN, AI])
def test_single_class_gives_none_not_nan(loaded_metric, only):
    references = [only] * 5
    predictions = [HUMAN, AI, only, only, only]
    results = loaded_metric.compute(predictions=predictions, references=references, scores=[0.2, 0.7, 0.5, 0.1, 0.9])
    missing = AI if only == HUMAN else HUMAN
    for key in NEEDS_BOTH_CLASSES + [f"{ID2LABEL[missing]}_accuracy"]:
        assert results[key] is None, key
    assert results[f"{ID2LABEL[only]}_accuracy"] == pytest.approx(4 / 5)
    assert results["accuracy"] == pytest.approx(4 / 5)
    assert results[f"n_{ID2LABEL[missing]}"] == 0
    json.dumps(results, allow_nan=False)  # strict JSON: no NaN anywhere


def test_empty_input(direct_metric):
    results = direct_metric.compute(predictions=[], references=[], scores=[])
    assert results["n"] == 0 and results["accuracy"] is None
    assert results["confusion_matrix"] == [[0, 0], [0, 0]]


def test_bad_inputs_are_refused(direct_metric):
    with pytest.raises(ValueError, match="class ids"):
        direct_metric.compute(predictions=[0, 2], references=[0, 1], scores=[0.1, 0.9])
    with pytest.raises(ValueError, match="finite"):
        direct_metric.compute(predictions=[0, 1], references=[0, 1], scores=[0.1, float("nan")])


def test_loaded_and_direct_metric_agree(loaded_metric, direct_metric):
    references, predictions, scores = random_case(seed=3, n=200, tie_decimals=2)
    via_evaluate = loaded_metric.compute(predictions=predictions, references=references, scores=scores)
    direct = direct_metric.compute(predictions=predictions, references=references, scores=scores)
    assert via_evaluate == direct
    # evaluate imports its own copy of the file from its modules cache, so the classes differ by identity.
    assert type(loaded_metric).__name__ == "DetectorMetric"


def test_evaluate_load_by_folder_path_offline(monkeypatch):
    import evaluate

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    metric = evaluate.load(str(dm.DETECTOR_METRIC_DIR), keep_in_memory=True)
    results = metric.compute(predictions=[0, 1], references=[0, 1], scores=[0.2, 0.8])
    assert results["mean_accuracy"] == 1.0 and results["auroc"] == 1.0


def test_unwritable_modules_cache_falls_back_to_the_class(monkeypatch):
    import evaluate

    def read_only_cache(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(evaluate, "load", read_only_cache)
    metric = dm.load_detector_metric()
    assert isinstance(metric, DetectorMetric)
    assert metric.compute(predictions=[0, 1], references=[1, 1], scores=[0.4, 0.8])["ai_accuracy"] == 0.5


def test_add_batch_accumulates(direct_metric):
    references, predictions, scores = random_case(seed=4, n=60)
    for start in range(0, 60, 25):
        batch = slice(start, start + 25)
        direct_metric.add_batch(predictions=predictions[batch], references=references[batch], scores=scores[batch])
    assert_matches_sklearn(direct_metric.compute(), references, predictions, scores)
