"""The familiarity section of a validity report: share flagged, coverage and selective accuracy with their
intervals, and the familiarity AUROC against the model's own test split (or, without it, the stored images)."""

import json

import datasets
import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from deepart_hf.errors import DeepArtError
from deepart_hf.evaluation import suite
from deepart_hf.evaluation.familiarity_report import (
    NO_FAMILIARITY,
    REFERENCE_FILE,
    TEST_SPLIT,
    TRAINING_IMAGES,
    dataset_familiarity,
    familiarity_line,
    familiarity_markdown,
    familiarity_metrics,
    load_reference,
    save_reference,
)
from deepart_hf.evaluation.intervals import wilson_interval
from deepart_hf.evaluation.suite import evaluate_detector, report_markdown, scored_split
from deepart_hf.inference.detector import Detector
from deepart_hf.models import create_model
from deepart_hf.models.familiarity import Familiarity
from deepart_hf.models.features import image_features
from helpers import png_value, random_pixels


def stored(n=40, dimensions=8, seed=0) -> Familiarity:
    return Familiarity.fit(np.random.default_rng(seed).normal(size=(n, dimensions)), np.arange(n) % 2, k=3)


def test_coverage_and_selective_accuracy_on_the_familiar_images():
    familiarity = stored()
    # 10 images: 7 familiar (all decided right), 3 unfamiliar (all decided wrong), 5 human and 5 ai
    distances = np.r_[np.full(7, familiarity.threshold / 2), np.full(3, familiarity.threshold + 0.5)]
    labels = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
    log_odds = np.where(labels == 1, 2.0, -2.0)
    log_odds[7:] *= -1  # the unfamiliar ones are called the wrong way
    reference = load_reference(None, familiarity)
    section = familiarity_metrics(
        distances, familiarity.familiar(distances), labels, log_odds, threshold_log_odds=0.0, reference=reference
    )
    assert section["n"] == 10 and section["n_unfamiliar"] == 3
    assert section["coverage"]["value"] == pytest.approx(0.7)
    assert (section["coverage"]["low"], section["coverage"]["high"]) == pytest.approx(wilson_interval(7, 10))
    assert section["unfamiliar"]["value"] == pytest.approx(0.3)
    assert section["all"]["accuracy"]["value"] == pytest.approx(0.7)
    assert section["familiar"]["accuracy"]["value"] == pytest.approx(1.0)
    assert section["familiar"]["mean_accuracy"]["value"] == pytest.approx(1.0)
    assert (section["familiar"]["n_human"], section["familiar"]["n_ai"]) == (4, 3)
    # 100% of 7 images is not certain: the interval is the Wilson one, about [65%, 100%]
    assert section["familiar"]["accuracy"]["low"] == pytest.approx(wilson_interval(7, 7)[0])
    # every image lies beyond the stored images' own distances but the 7 at half the threshold
    expected = roc_auc_score(np.r_[np.zeros(40), np.ones(10)], np.r_[familiarity.reference_distances, distances])
    assert section["auroc"]["value"] == pytest.approx(expected)
    assert section["reference"] == {"kind": TRAINING_IMAGES, "description": reference.description, "n": 40}


def test_the_auroc_is_against_the_saved_test_split_and_its_own_images_are_named(tmp_path):
    familiarity = stored()
    rng = np.random.default_rng(1)
    own = rng.uniform(0.1, 0.3, 20)
    save_reference(tmp_path, [f"img-{i}" for i in range(20)], own, "the model's own test split (20 images)")
    reference = load_reference(tmp_path, familiarity)
    assert reference.kind == TEST_SPLIT and reference.distances.tolist() == own.tolist()
    labels, log_odds = np.arange(20) % 2, np.zeros(20)
    options = dict(threshold_log_odds=0.0, reference=reference, n_resamples=100)

    # a part of the model's own test split, at its own distances: no AUROC, and the report says why
    part = familiarity_metrics(own[:8], np.ones(8, bool), labels[:8], log_odds[:8], ids=[f"img-{i}" for i in range(8)], **options)  # fmt: skip
    assert part["own_test_split"] and part["auroc"] is None
    # a run on several datasets names them "<dataset>/<id>"
    mixed = save_reference(tmp_path / "mixed", [f"deepart/img-{i}" for i in range(20)], own, "two sources")
    assert load_reference(mixed.parent, familiarity).is_own([f"img-{i}" for i in range(8)], own[:8])
    # the same ids elsewhere (another dataset's files of the same names) are not the reference
    other = familiarity_metrics(own[:8] + 0.2, np.ones(8, bool), labels[:8], log_odds[:8], ids=[f"img-{i}" for i in range(8)], **options)  # fmt: skip
    assert not other["own_test_split"]
    # further out than every reference image: AUROC 1, with an interval that stays below certainty
    assert other["auroc"]["value"] == pytest.approx(roc_auc_score(np.r_[np.zeros(20), np.ones(8)], np.r_[own, own[:8] + 0.2]))  # fmt: skip
    far = familiarity_metrics(np.full(8, 0.9), np.zeros(8, bool), labels[:8], log_odds[:8], **options)
    assert far["auroc"]["value"] == 1.0 and 0.6 < far["auroc"]["low"] < 1.0
    # drawn like the reference: about 0.5
    alike = familiarity_metrics(rng.uniform(0.1, 0.3, 200), np.ones(200, bool), np.arange(200) % 2, np.zeros(200), **options)  # fmt: skip
    assert alike["auroc"]["value"] == pytest.approx(0.5, abs=0.12)
    assert far["coverage"]["value"] == 0.0 and far["familiar"]["mean_accuracy"]["value"] is None


def test_a_damaged_reference_is_one_line_naming_it(tmp_path):
    (tmp_path / REFERENCE_FILE).write_text(json.dumps({"ids": ["a", "b"], "distances": [0.1]}))
    with pytest.raises(DeepArtError, match=f"{REFERENCE_FILE} is not a familiarity reference"):
        load_reference(tmp_path, stored())
    (tmp_path / REFERENCE_FILE).write_text("{not json")
    with pytest.raises(DeepArtError, match="delete it or retrain"):
        load_reference(tmp_path, stored())


def test_without_familiarity_data_the_section_is_one_line():
    entry = dataset_familiarity(None, None, np.zeros(3), np.zeros(3), threshold_log_odds=0.0)
    assert entry == {"note": NO_FAMILIARITY}
    assert familiarity_markdown(entry).strip().splitlines() == ["### Familiarity", "", NO_FAMILIARITY]
    assert familiarity_line(entry) == f"Familiarity: {NO_FAMILIARITY}"
    assert familiarity_markdown(None) == ""  # a report written before familiarity was measured


# --- through the validity report, with a small detector ------------------------------------------------------


def image_split(n: int, seed: int, name: str, dataset: str | None = None) -> datasets.Dataset:
    values = [png_value(random_pixels(40, 40, seed=seed + i), f"{name}/{i}.png") for i in range(n)]
    columns = {"image": values, "label": [i % 2 for i in range(n)], "image_id": [f"{name}/{i}.png" for i in range(n)]}
    features = {
        "image": datasets.Image(),
        "label": datasets.ClassLabel(names=["human", "ai"]),
        "image_id": datasets.Value("string"),
    }
    if dataset is not None:
        columns["dataset"], features["dataset"] = [dataset] * n, datasets.Value("string")
    return datasets.Dataset.from_dict(columns, features=datasets.Features(features))


@pytest.fixture(scope="module")
def detector():
    torch.manual_seed(0)
    model, processor = create_model("resnet10t", from_scratch=True, image_size=32, preprocess="resize")
    training = image_split(24, 100, "train")
    pixels = processor(images=[image.convert("RGB") for image in training["image"]], return_tensors="pt")
    features = image_features(model, pixels["pixel_values"]).numpy()
    familiarity = Familiarity.fit(features, np.asarray(training["label"]), k=3)
    return Detector(model, processor, batch_size=4, device="cpu", familiarity=familiarity)


def test_the_distances_come_from_the_head_features_of_the_scored_images(detector):
    split = image_split(7, 0, "test")
    scored = scored_split(detector, split, (), distances=True, workers=2)
    pixels = detector.processor(images=[image.convert("RGB") for image in split["image"]], return_tensors="pt")
    expected = detector.familiarity.distances(image_features(detector.model, pixels["pixel_values"]).numpy())
    np.testing.assert_allclose(scored.distances, expected, atol=1e-5)
    np.testing.assert_allclose(scored.clean, detector.log_odds(split["image"]), atol=1e-6)


def test_a_run_saves_its_test_split_as_the_reference_of_later_evaluations(detector, tmp_path):
    run = tmp_path / "run"
    test = image_split(10, 0, "test", dataset="own")
    labels, log_odds = np.asarray(test["label"]), detector.log_odds(test["image"])
    # as a training run calls it: the clean scores known, the split the model's own test split
    own = evaluate_detector(detector, test, run, perturbations=(), n_resamples=50, clean=(None, labels, log_odds),
                            model_folder=run, own_test_split=True).report  # fmt: skip
    saved = json.loads((run / REFERENCE_FILE).read_text())
    assert saved["ids"] == test["image_id"] and len(saved["distances"]) == 10
    assert own["familiarity"]["own_test_split"] and own["familiarity"]["per_dataset"]["own"]["own_test_split"]
    assert "These images are the model's own test split" in (run / "evaluation.md").read_text()

    # a later evaluation of other images against that reference
    other = image_split(6, 500, "other")
    report = evaluate_detector(detector, other, tmp_path / "eval", perturbations=(), n_resamples=50, model_folder=run).report  # fmt: skip
    section = report["familiarity"]
    assert section["reference"]["kind"] == TEST_SPLIT and section["reference"]["n"] == 10
    assert not section["own_test_split"] and section["auroc"]["value"] is not None
    distances = scored_split(detector, other, (), distances=True).distances
    expected = roc_auc_score(np.r_[np.zeros(10), np.ones(6)], np.r_[saved["distances"], distances])
    assert section["auroc"]["value"] == pytest.approx(expected)
    assert section["n_unfamiliar"] == int((distances > detector.familiarity.threshold).sum())
    markdown = report_markdown(report)
    assert "### Familiarity" in markdown and familiarity_line(section) in markdown


def test_features_from_the_scoring_pass_measure_the_familiarity_without_reading_the_images_again(
    detector, tmp_path, monkeypatch
):
    test = image_split(10, 0, "test")
    labels, log_odds = np.asarray(test["label"]), detector.log_odds(test["image"])
    clean = (test["image_id"], labels, log_odds)
    read = evaluate_detector(detector, test, tmp_path / "read", perturbations=(), n_resamples=50, clean=clean)
    pixels = detector.processor(images=[image.convert("RGB") for image in test["image"]], return_tensors="pt")
    features = image_features(detector.model, pixels["pixel_values"]).numpy()

    def no_second_pass(*args, **kwargs):
        raise AssertionError("the images were read again")

    monkeypatch.setattr(suite, "scored_split", no_second_pass)
    given = evaluate_detector(
        detector, test, tmp_path / "given", perturbations=(), n_resamples=50, clean=clean, clean_features=features
    )
    assert np.ptp(read.distances) > 0.01
    np.testing.assert_allclose(given.distances, read.distances, rtol=0, atol=1e-5)
    for key in ("n_unfamiliar", "auroc"):
        assert given.report["familiarity"][key] == read.report["familiarity"][key]


def test_a_detector_without_familiarity_says_so_in_its_report(tmp_path):
    model, processor = create_model("resnet10t", from_scratch=True, image_size=32, preprocess="resize")
    plain = Detector(model, processor, batch_size=4, device="cpu")
    report = evaluate_detector(plain, image_split(4, 0, "test"), tmp_path, perturbations=(), n_resamples=20).report
    assert report["familiarity"] == {"note": NO_FAMILIARITY}
    assert NO_FAMILIARITY in (tmp_path / "evaluation.md").read_text()
