"""A saved detector reproduces its own report: the run's test predictions come back, number for number, from
`train.py --eval_only`, from `pipeline("image-classification")` and from `deepart_hf.load_detector`, for every
model family and both preprocessing modes; and the same command twice gives the same predictions."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from transformers import pipeline

import deepart_hf
import train
from deepart_hf.data.images import decode_image
from deepart_hf.data.loading import load_splits
from deepart_hf.evaluation.predictions import read_predictions_csv
from helpers import FAST_TRAINING

TOLERANCE = 1e-4  # required; in practice the pipeline agrees to ~1e-7 (float32 softmax) and the rest exactly
FAST = [*FAST_TRAINING, "--save_total_limit", "1"]


def run_train(*argv):
    assert train.main([str(a) for a in argv]) == 0


@pytest.fixture(scope="module")
def synthetic_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "synthetic"
    deepart_hf.publish(deepart_hf.build("synthetic", n_per_class=40, image_size=96, seed=3), out)
    return out


def reported_test_images(run, dataset) -> tuple[list, np.ndarray]:
    """The run's test images, in the order of its predictions.csv, and the probabilities it reported."""
    reported = read_predictions_csv(run / "predictions.csv")
    by_id = {
        row["image_id"]: row["image"] for row in load_splits(str(dataset))["test"].cast_column("image", _undecoded())
    }
    return [decode_image(by_id[image_id]) for image_id in reported["id"]], reported["prob_ai"]


def _undecoded():
    from datasets import Image

    return Image(decode=False)


def pipeline_probabilities(run, images) -> np.ndarray:
    classify = pipeline("image-classification", model=str(run))
    return np.array([{s["label"]: s["score"] for s in classify(image)}["ai"] for image in images])


def assert_eval_only_reproduces(run, dataset, tmp_path):
    again = tmp_path / "eval"
    run_train(
        "--eval_only",
        "--model_name_or_path",
        run,
        "--dataset",
        dataset,
        "--output_dir",
        again,
        "--max_eval_samples",
        "8",
        "--dataloader_num_workers",
        "0",
    )  # no preprocessing flag: the model has it
    reported, reproduced = (
        read_predictions_csv(run / "predictions.csv"),
        read_predictions_csv(again / "predictions.csv"),
    )
    assert reproduced["id"].tolist() == reported["id"].tolist()
    np.testing.assert_allclose(reproduced["prob_ai"], reported["prob_ai"], rtol=0, atol=TOLERANCE)
    metrics = json.loads((again / "metrics.json").read_text())["test"]
    expected = json.loads((run / "metrics.json").read_text())["test"]
    assert metrics.keys() == expected.keys()
    for key, value in expected.items():
        assert metrics[key] == (pytest.approx(value, abs=1e-9) if isinstance(value, float) else value), key


CASES = {
    # name: (dataset fixture, train.py flags)
    "vit-resize-deepart": ("deepart_folder", ["--model", "vit-test", "--image_size", "32"]),
    "resnet-crop3-deepart": (
        "deepart_folder",
        ["--model", "resnet10t", "--preprocess", "crop", "--image_size", "64", "--eval_crops", "3"],
    ),
    "googlenet-resize-deepart": ("deepart_folder", ["--model", "googlenet", "--image_size", "64"]),
    "vit-crop5-synthetic": (
        "synthetic_folder",
        ["--model", "vit-test", "--preprocess", "crop", "--image_size", "32", "--eval_crops", "5"],
    ),
    "resnet-resize-synthetic": ("synthetic_folder", ["--model", "resnet10t", "--image_size", "48"]),
    # the recipes that generalise: a frozen CLIP probe (CLIP's resize + centre crop), SAFE with its protocol and --augment
    "clip-probe-synthetic": ("synthetic_folder", ["--model", "clip-test", "--image_size", "32"]),
    # the linear-probe recipe on pretrained ImageNet features that install with the package (no download)
    "lite0-probe-synthetic": ("synthetic_folder", ["--model", "efficientnet-lite0-linear", "--image_size", "64"]),
    # the same probe on native crops: its head trains on cached features of seeded random crops, 3 averaged at test
    "lite0-probe-crop3-deepart": (
        "deepart_folder",
        ["--model", "efficientnet-lite0-linear", "--preprocess", "crop", "--image_size", "64", "--eval_crops", "3"],
    ),
    # the probe on the final features and two earlier stages: its own model class, saved with its code
    "lite0-multistage-probe-synthetic": (
        "synthetic_folder",
        ["--model", "efficientnet-lite0-linear", "--probe_stages", "3", "--image_size", "64"],
    ),
    # the probe on two views (a native crop and its resize, in the model): cached features of the crop and its mirror
    "lite0-two-view-probe-deepart": (
        "deepart_folder",
        ["--model", "efficientnet-lite0-linear", "--probe_views", "resize,native", "--image_size", "232"],
    ),
    "safe-crop3-synthetic": (
        "synthetic_folder",
        ["--protocol", "safe", "--image_size", "32", "--eval_crops", "3", "--max_train_samples", "24"],
    ),
}

PRETRAINED = {
    "lite0-probe-synthetic",
    "lite0-probe-crop3-deepart",
    "lite0-multistage-probe-synthetic",
    "lite0-two-view-probe-deepart",
}


@pytest.mark.parametrize(
    "case",
    [pytest.param(case, marks=[pytest.mark.real_data] * (CASES[case][0] == "deepart_folder")) for case in CASES],
)
def test_a_saved_detector_reproduces_its_test_predictions(case, request, tmp_path):
    fixture, flags = CASES[case]
    dataset = request.getfixturevalue(fixture)
    run = tmp_path / "run"
    from_scratch = [] if case in PRETRAINED else ["--from_scratch"]
    run_train("--dataset", dataset, *from_scratch, *flags, "--output_dir", run, *FAST)
    images, reported = reported_test_images(run, dataset)
    assert len(images) == 8 and np.ptp(reported) > 0  # a real spread of scores, not a constant

    np.testing.assert_allclose(
        [p.prob_ai for p in deepart_hf.load_detector(run).predict(images)], reported, rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(pipeline_probabilities(run, images), reported, rtol=0, atol=TOLERANCE)
    assert_eval_only_reproduces(run, dataset, tmp_path)
    # the card's pipeline line asks for the saved code exactly when the model's class is saved with it
    saved_code = "auto_map" in json.loads((run / "config.json").read_text(encoding="utf-8"))
    assert ("trust_remote_code=True" in (run / "README.md").read_text(encoding="utf-8")) == saved_code


def test_a_resize_detector_needs_nothing_but_transformers(deepart_folder, tmp_path):
    run = tmp_path / "run"
    run_train(
        "--dataset",
        deepart_folder,
        "--model",
        "resnet10t",
        "--from_scratch",
        "--image_size",
        "48",
        "--output_dir",
        run,
        *FAST,
    )
    images, reported = reported_test_images(run, deepart_folder)
    for index, image in enumerate(images):
        image.save(tmp_path / f"{index}.png")
    script = textwrap.dedent(
        f"""
        import sys
        from transformers import pipeline
        classify = pipeline("image-classification", model={str(run)!r})
        for index in range({len(images)}):
            print({{s["label"]: s["score"] for s in classify({str(tmp_path)!r} + f"/{{index}}.png")}}["ai"])
        assert not any(name.startswith("deepart_hf") for name in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    np.testing.assert_allclose([float(line) for line in done.stdout.split()], reported, rtol=0, atol=TOLERANCE)


def test_the_main_command_reproduces_itself_and_its_predictions(synthetic_folder, tmp_path):
    """The quick protocol (the README's main command, here on a smaller synthetic set): the same command and seed
    twice give identical predictions, and the saved model reproduces them through the pipeline."""
    first, second = tmp_path / "first", tmp_path / "second"
    for out in (first, second):
        run_train(
            "--dataset",
            synthetic_folder,
            "--protocol",
            "quick",
            "--output_dir",
            out,
            "--num_train_epochs",
            "1",
            "--dataloader_num_workers",
            "0",
        )
    assert (first / "predictions.csv").read_bytes() == (second / "predictions.csv").read_bytes()
    images, reported = reported_test_images(first, synthetic_folder)
    np.testing.assert_allclose(pipeline_probabilities(first, images), reported, rtol=0, atol=TOLERANCE)
