"""deepart-hf calibrate: a detector re-calibrated on a collection's own images, and predict using the result."""

import datetime
import json
import shutil

import numpy as np
import pytest
import torch
from scipy.stats import beta

import deepart_hf
import train
from deepart_hf.cli import main as cli
from deepart_hf.constants import AI
from deepart_hf.evaluation.calibration import apply_temperature, fit_temperature
from deepart_hf.evaluation.recalibrate import PROVENANCE_FILE, minimum_human_images
from deepart_hf.inference.demo import analyse
from deepart_hf.models.heads import classifier_head
from helpers import DEEPART_SAMPLE, FAST_TRAINING

HUMAN = DEEPART_SAMPLE / "Human"  # 40 human paintings, read in place by tests that train on the sample


def sample_files(*folders: str) -> list[str]:
    """The sample's files in these folders (Human: 40 paintings, Aigc: their 40 re-creations), folder by folder."""
    return [str(p) for folder in folders for p in sorted((DEEPART_SAMPLE / folder).iterdir())]


def folder_bytes(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def model(deepart_folder, tmp_path_factory):
    """resnet10t from scratch, briefly, on 32-pixel resized images: a detector with a threshold of its own."""
    run = tmp_path_factory.mktemp("runs") / "resnet10t"
    argv = ["--dataset", deepart_folder, "--from_scratch", "--model", "resnet10t", "--image_size", "32"]
    assert train.main([str(a) for a in [*argv, "--output_dir", run, *FAST_TRAINING, "--save_total_limit", "1"]]) == 0
    return run


def test_human_images_set_the_threshold_that_predict_then_applies(model, tmp_path, capsys):
    before = folder_bytes(model)
    out = tmp_path / "calibrated"
    assert cli(["calibrate", "--model", str(model), "--human", str(HUMAN), "--output_dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "FPR on these 40 human images: 2.5%" in printed
    assert "Expected FPR on new human images of this collection: 4.9% (95% upper bound 11.3%)" in printed
    assert folder_bytes(model) == before  # the model it started from is untouched

    # The threshold, computed independently: ceil(41 * 0.95) = 39, so 1 of the 40 human scores may reach it and it
    # lies just above the second highest.
    original = deepart_hf.load_detector(model)
    scores = original.log_odds(sample_files("Human"))
    expected = np.nextafter(np.sort(scores)[::-1][1], np.inf)
    calibrated = deepart_hf.load_detector(out)
    assert calibrated.calibration.threshold_log_odds == pytest.approx(expected, rel=1e-9, abs=1e-12)
    # human images alone leave the temperature, hence every score, as they were
    assert calibrated.calibration.temperature == original.calibration.temperature
    np.testing.assert_allclose(calibrated.log_odds(sample_files("Human")), scores, rtol=0, atol=1e-6)
    # a new threshold leaves the training images where they were: the same distances, the same familiarity
    images = sample_files("Human")[:4]
    assert original.familiarity is not None
    np.testing.assert_allclose(
        [p.distance for p in calibrated.predict(images)], [p.distance for p in original.predict(images)], atol=1e-9
    )

    # predict decides at the new threshold: exactly 1 of the 40 human images is called ai
    table = tmp_path / "predictions.json"
    assert cli(["predict", "--model", str(out), str(HUMAN), "--output", str(table), "--quiet", "--uncertain", "0"]) == 0
    written = json.loads(table.read_text())
    assert written["threshold_log_odds"] == calibrated.calibration.threshold_log_odds
    rows = written["rows"]
    assert len(rows) == 40 and sum(row["decision"] == "ai" for row in rows) == 1
    np.testing.assert_allclose([row["log_odds_ai"] for row in rows], scores, rtol=0, atol=1e-6)

    # the demo too: the highest-scoring human painting is above the new threshold, and the page says how it was set
    shown = analyse(calibrated, sample_files("Human")[int(np.argmax(scores))], uncertain=0)
    assert shown.prediction.threshold_log_odds == calibrated.calibration.threshold_log_odds
    assert shown.prediction.label == "ai" and "re-calibrated on 40 human images" in shown.verdict

    provenance = json.loads((out / PROVENANCE_FILE).read_text())
    config = json.loads((out / "config.json").read_text())["deepart_calibration"]
    assert provenance == config
    done = provenance["details"]["recalibration"]
    assert done["human"] == [str(HUMAN.resolve())] and done["ai"] == []
    assert (done["n_human"], done["n_ai"], done["target_fpr"]) == (40, 0, 0.05)
    assert done["fpr_on_these_images"] == 0.025 and done["tpr_on_these_images"] is None
    assert done["expected_fpr_on_new_images"] == pytest.approx(2 / 41)  # (k + 1) / (n + 1), k = 1, below 5%
    assert done["fpr_upper_95_on_new_images"] == pytest.approx(beta(2, 39).ppf(0.95))
    assert datetime.datetime.fromisoformat(done["date"]).tzinfo is not None
    assert provenance["details"]["previous_calibration"] == original.calibration.to_dict()

    # M2 exists now: refused unless --overwrite, and replaced when asked
    assert cli(["calibrate", "--model", str(model), "--human", str(HUMAN), "--output_dir", str(out)]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    again = ["calibrate", "--model", str(model), "--human", str(HUMAN), "--output_dir", str(out), "--overwrite"]
    assert cli([*again, "--target_fpr", "0.1"]) == 0
    assert deepart_hf.load_detector(out).calibration.threshold_log_odds == pytest.approx(
        np.nextafter(np.sort(scores)[::-1][3], np.inf),
        rel=1e-9,
        abs=1e-12,  # k = floor(41 * 0.1) - 1 = 3
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calibrated", "predictions.json"]  # no temporary left


def test_too_few_human_images_are_refused_in_one_line(model, tmp_path, capsys):
    few = tmp_path / "few"
    few.mkdir()
    for path in sample_files("Human")[:12]:
        shutil.copy(path, few)
    out = tmp_path / "calibrated"
    assert cli(["calibrate", "--model", str(model), "--human", str(few), "--output_dir", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert (
        "\n" not in error and "12 human calibration images can serve a false-positive target of 7.69% or more" in error
    )
    assert "not 5%, which needs at least 19" in error
    assert not out.exists()
    assert minimum_human_images(0.05) == 19 and minimum_human_images(0.01) == 99


def test_it_never_writes_into_the_model_or_over_files_it_did_not_write(model, tmp_path, capsys):
    before = folder_bytes(model)
    for out in (model, model / "calibrated", model.parent):
        assert cli(["calibrate", "--model", str(model), "--human", str(HUMAN), "--output_dir", str(out)]) == 2
        assert "would write into or over --model" in capsys.readouterr().err
    other = tmp_path / "notes"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    command = ["calibrate", "--model", str(model), "--human", str(HUMAN), "--output_dir", str(other), "--overwrite"]
    assert cli(command) == 2 and "did not write" in capsys.readouterr().err
    assert (other / "notes.txt").read_text() == "mine" and folder_bytes(model) == before


def test_both_classes_refit_the_temperature(model, tmp_path):
    """An over-confident detector (its head shifted and scaled so its log-odds on these images have mean 0 and
    spread 5) on a collection where its scores carry signal: the fitted temperature is the one the log-loss fit
    gives on those images, and every score is divided by it."""
    detector = deepart_hf.load_detector(model)
    scores = detector.log_odds(sample_files("Human", "Aigc"))
    with torch.no_grad():
        classifier_head(detector.model).bias[AI] -= float(np.mean(scores))
    apply_temperature(detector.model, float(np.std(scores)) / 5)
    overconfident = tmp_path / "overconfident"
    detector.model.save_pretrained(overconfident)
    detector.processor.save_pretrained(overconfident)
    detector = deepart_hf.load_detector(overconfident)
    scores = detector.log_odds(sample_files("Human", "Aigc"))
    # The collection: the 40 lowest-scoring images are "human" but for every fourth, which swaps with a high one,
    # so the scores rank the two folders well but not perfectly (a perfect ranking has no finite temperature).
    order = np.argsort(scores)
    low, high = list(order[:40]), list(order[40:])
    for i in range(0, 40, 4):
        low[i], high[i] = high[i], low[i]
    paths = np.array(sample_files("Human", "Aigc"))
    for name, chosen in (("human", low), ("ai", high)):
        (tmp_path / name).mkdir()
        for index, path in enumerate(paths[chosen]):
            shutil.copy(path, tmp_path / name / f"{index:02d}-{path.rsplit('/', 1)[-1]}")
    human_files = sorted(str(p) for p in (tmp_path / "human").iterdir())
    ai_files = sorted(str(p) for p in (tmp_path / "ai").iterdir())
    logits = detector.logits(human_files + ai_files)[:, None, :]
    labels = np.array([0] * 40 + [1] * 40)
    factor = fit_temperature(logits, labels)
    assert 1.5 < factor < 50  # over-confident: a temperature well above 1, inside the search bounds

    out = tmp_path / "calibrated"
    command = ["calibrate", "--model", str(overconfident), "--human", str(tmp_path / "human")]
    assert cli([*command, "--ai", str(tmp_path / "ai"), "--output_dir", str(out)]) == 0
    calibrated = deepart_hf.load_detector(out)
    assert calibrated.calibration.temperature == pytest.approx(factor, rel=1e-4)
    human_after = calibrated.log_odds(human_files)
    np.testing.assert_allclose(human_after, detector.log_odds(human_files) / factor, rtol=1e-4, atol=1e-6)
    expected = np.nextafter(np.sort(human_after)[::-1][1], np.inf)
    assert calibrated.calibration.threshold_log_odds == pytest.approx(expected, rel=1e-6, abs=1e-9)
    done = calibrated.calibration.details["recalibration"]
    assert (done["n_human"], done["n_ai"], done["fpr_on_these_images"]) == (40, 40, 0.025)
    assert done["tpr_on_these_images"] == pytest.approx(np.mean(calibrated.log_odds(ai_files) >= expected))
    assert (
        calibrated.calibration.details["validation_log_loss_after"]
        < calibrated.calibration.details["validation_log_loss_before"]
    )
