"""A linear probe trained on features computed once: the same predictions as a probe trained the old way (the
backbone run over every image at every epoch), resuming as any run does, the views it caches, the head's
logits on cached features equal to the model's own, and calibration and familiarity read from the cached
features as they would be from the images."""

import csv
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from datasets import Image

import deepart_hf
from deepart_hf.data.images import decode_image
from deepart_hf.data.loading import load_splits
from deepart_hf.errors import DeepArtError
from deepart_hf.evaluation.calibration import calibrate
from deepart_hf.evaluation.suite import scored_split
from deepart_hf.models import create_model, freeze_backbone
from deepart_hf.models.familiarity import REFERENCE_FILE
from deepart_hf.models.features import head_inputs
from deepart_hf.models.preprocessing import PixelValues
from deepart_hf.training.augment import TrainTransform, parse_augment
from deepart_hf.training.cached_probe import (
    FROZEN_RECORD,
    RANDOM_DRAWS,
    CachedFeatures,
    FeatureHead,
    FeatureProbeTrainer,
    TrainingViews,
    cached_feature_datasets,
    describe_views,
    frozen_fingerprint,
)
from deepart_hf.training.familiarity import fit_familiarity
from deepart_hf.training.run import build_model, make_trainer, prepare_data, training_layout
from deepart_hf.training.task import Task
from helpers import FAST_TRAINING

# Probes trained both ways on the same split, seed and schedule, and compared on the test split's P(ai): in
# resize mode without augmentation both draw the same views in the same order (the image or its mirror, by
# the same draw of torch's generator), so they can differ only by the float rounding of the features (computed
# in other batches): on this machine the two runs' log-odds came out identical.
PARITY_TOLERANCE = 1e-4


def probe_run(dataset, out, *flags):
    command = [
        "--dataset",
        str(dataset),
        "--model",
        "efficientnet-lite0-linear",
        "--image_size",
        "64",
        "--output_dir",
        str(out),
        *FAST_TRAINING,
        "--num_train_epochs",
        "3",
        "--learning_rate",
        "0.01",
        "--bf16",
        "false",
        *flags,
    ]
    return deepart_hf.train(deepart_hf.parse_train_arguments([str(part) for part in command]))


def predicted_prob_ai(out) -> np.ndarray:
    with open(out / "predictions.csv") as rows:
        return np.array([float(row["prob_ai"]) for row in csv.DictReader(rows)])


@pytest.fixture(scope="module")
def cached_probe(deepart_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("probe") / "cached"
    return out, probe_run(deepart_folder, out, "--keep_checkpoints", "true")


def test_a_probe_on_cached_features_predicts_as_one_trained_the_old_way(cached_probe, deepart_folder, tmp_path, capsys):
    out, result = cached_probe
    old = probe_run(deepart_folder, tmp_path / "old", "--feature_cache", "false", "--keep_checkpoints", "true")
    cached, reference = predicted_prob_ai(out), predicted_prob_ai(old.output_dir)
    assert len(cached) == result.metrics["n"] == 8 and np.ptp(cached) > 0.1  # a real spread of scores
    np.testing.assert_allclose(cached, reference, rtol=0, atol=PARITY_TOLERANCE)
    assert result.metrics["mean_accuracy"] == pytest.approx(old.metrics["mean_accuracy"])
    # both logged an evaluation per epoch, with the same validation loss
    losses = [validation_losses(folder) for folder in (out, old.output_dir)]
    assert len(losses[0]) == 3 and np.allclose(losses[0], losses[1], rtol=0, atol=PARITY_TOLERANCE)


def validation_losses(out) -> list[float]:
    last = max(out.glob("checkpoint-*"), key=lambda path: int(path.name.split("-")[1]))
    history = json.loads((last / "trainer_state.json").read_text())["log_history"]
    return [entry["eval_loss"] for entry in history if "eval_loss" in entry]


def test_a_cached_probe_saves_the_usual_detector(cached_probe):
    out, _ = cached_probe
    detector = deepart_hf.load_detector(out)
    assert (out / "model.safetensors").is_file()
    state = detector.model.state_dict()
    trained = create_model("efficientnet-lite0-linear", image_size=64)[0].state_dict()
    # the backbone is the pretrained one, untouched; only the head learned
    head = {name for name in state if "classifier" in name}
    assert head and all(torch.equal(state[name], trained[name]) for name in state if name not in head)
    assert not all(torch.equal(state[name], trained[name]) for name in head)


def test_an_interrupted_cached_probe_resumes_to_the_same_model(cached_probe, deepart_folder, tmp_path, caplog):
    out, _ = cached_probe
    resumed = tmp_path / "resumed"
    probe_run(deepart_folder, resumed, "--keep_checkpoints", "true")
    # as if the run had died during its last epoch: no marker, no last checkpoint
    (resumed / "metrics.json").unlink()
    last = max(resumed.glob("checkpoint-*"), key=lambda path: int(path.name.split("-")[1]))
    shutil.rmtree(last)
    probe_run(deepart_folder, resumed)
    assert "resuming from" in caplog.text
    np.testing.assert_allclose(predicted_prob_ai(resumed), predicted_prob_ai(out), rtol=0, atol=1e-6)


def test_a_cached_probes_checkpoints_hold_its_head_and_the_fingerprint_of_the_rest(cached_probe):
    out, _ = cached_probe
    whole = safetensors.torch.load_file(str(out / "model.safetensors"))
    checkpoints = sorted(out.glob("checkpoint-*"))
    assert len(checkpoints) == 2  # --save_total_limit 2 of the 3 epochs
    for checkpoint in checkpoints:
        head = safetensors.torch.load_file(str(checkpoint / "model.safetensors"))
        assert sorted(head) == sorted(name for name in whole if ".classifier." in name) and len(head) == 2
        record = json.loads((checkpoint / FROZEN_RECORD).read_text())
        assert sorted(record["head"]) == sorted(head)
        # the finished model's weights outside the head are the ones fingerprinted: the backbone never moved
        assert frozen_fingerprint(whole, record["head"]) == record["frozen_sha256"]
        # the whole model is 3.4M weights, the head 1281 x 2
        assert (checkpoint / "model.safetensors").stat().st_size < (out / "model.safetensors").stat().st_size / 100
    # the last checkpoint's head is the finished model's
    last = safetensors.torch.load_file(str(checkpoints[-1] / "model.safetensors"))
    assert all(torch.equal(last[name], whole[name]) for name in last)


def test_the_best_epochs_head_is_loaded_from_its_checkpoint_without_a_warning(deepart_folder, tmp_path, caplog):
    out = tmp_path / "best"
    transformers_logger = logging.getLogger("transformers")  # it does not propagate to the root logger
    transformers_logger.addHandler(caplog.handler)
    try:
        probe_run(deepart_folder, out, "--keep_checkpoints", "true", "--load_best_model_at_end", "true")
    finally:
        transformers_logger.removeHandler(caplog.handler)
    last = max(out.glob("checkpoint-*"), key=lambda path: int(path.name.split("-")[1]))
    state = json.loads((last / "trainer_state.json").read_text())
    best = safetensors.torch.load_file(str(Path(state["best_model_checkpoint"]) / "model.safetensors"))
    whole = safetensors.torch.load_file(str(out / "model.safetensors"))
    assert len(whole) > 100 and all(torch.equal(best[name], whole[name]) for name in best)
    assert "missing keys" not in caplog.text


def test_a_checkpoint_of_a_head_on_other_frozen_weights_is_not_resumed(cached_probe, deepart_folder, tmp_path):
    out, _ = cached_probe
    resumed = tmp_path / "resumed"
    shutil.copytree(out, resumed)
    (resumed / "metrics.json").unlink()
    first = min(resumed.glob("checkpoint-*"), key=lambda path: int(path.name.split("-")[1]))
    # as if the backbone the head was trained on were another: the fingerprint no longer matches
    record = json.loads((first / FROZEN_RECORD).read_text())
    (first / FROZEN_RECORD).write_text(json.dumps({**record, "frozen_sha256": "0" * 64}))
    for checkpoint in resumed.glob("checkpoint-*"):
        if checkpoint != first:
            shutil.rmtree(checkpoint)
    with pytest.raises(DeepArtError, match="other frozen weights than this run builds"):
        probe_run(deepart_folder, resumed)
    assert first.is_dir()  # nothing of the checkpoint is lost


def undecoded_training_images(folder):
    return load_splits(str(folder))["train"].select(range(2)).cast_column("image", Image(decode=False))


def test_resize_mode_caches_the_image_and_its_mirror(deepart_folder):
    _, processor = create_model("resnet10t", from_scratch=True, image_size=32)
    train = undecoded_training_images(deepart_folder)
    transform = TrainTransform(processor, parse_augment(None))
    training_views = TrainingViews(train, transform, seed=0)
    views = training_views[1]["pixel_values"]
    plain = PixelValues(processor)({"image": [train[1]["image"]]})["pixel_values"][0]
    assert views.shape == (2, 3, 32, 32) and describe_views(training_views.draws) == "the image and its mirror"
    assert torch.equal(views[0], plain) and torch.equal(views[1], plain.flip(-1))


def test_a_crop_as_large_as_every_image_caches_the_image_and_its_mirror(deepart_folder):
    train = undecoded_training_images(deepart_folder)
    largest = max(max(train["width"]), max(train["height"]))
    _, processor = create_model("resnet10t", from_scratch=True, image_size=largest, preprocess="crop")
    training_views = TrainingViews(train, TrainTransform(processor, parse_augment(None)), seed=0)
    views = training_views[0]["pixel_values"]
    whole = processor(images=[decode_image(train[0]["image"])], return_tensors="pt")["pixel_values"][0, 0]
    assert training_views.draws == 1 and views.shape == (2, 3, largest, largest)
    assert torch.equal(views[0], whole) and torch.equal(views[1], whole.flip(-1))  # the only position: all of it
    _, smaller = create_model("resnet10t", from_scratch=True, image_size=largest - 1, preprocess="crop")
    assert TrainingViews(train, TrainTransform(smaller, parse_augment(None)), seed=0).draws == RANDOM_DRAWS


def test_random_views_are_seeded_and_come_in_mirrored_pairs(deepart_folder):
    _, processor = create_model("resnet10t", from_scratch=True, image_size=32, preprocess="crop")
    train = undecoded_training_images(deepart_folder)
    transform = TrainTransform(processor, parse_augment("color"))
    first = TrainingViews(train, transform, seed=0)[0]["pixel_values"]
    assert first.shape == (2 * RANDOM_DRAWS, 3, 32, 32)
    assert torch.equal(first, TrainingViews(train, transform, seed=0)[0]["pixel_values"])  # the same, again
    assert not torch.equal(first, TrainingViews(train, transform, seed=1)[0]["pixel_values"])
    for draw in range(RANDOM_DRAWS):
        assert torch.equal(first[2 * draw + 1], first[2 * draw].flip(-1))
    # four different crops and colours, not one view repeated
    assert len({tuple(first[2 * draw].flatten()[:64].tolist()) for draw in range(RANDOM_DRAWS)}) == RANDOM_DRAWS


def test_each_epoch_reads_one_cached_view_per_image_as_the_transform_draws_its_flip():
    features = torch.arange(3 * 2 * 4, dtype=torch.float32).view(3, 2, 4)
    dataset = CachedFeatures(features, torch.tensor([0, 1, 0]), draws=1)
    torch.manual_seed(5)
    drawn = [dataset[i]["features"] for i in range(3)]
    torch.manual_seed(5)
    flips = [bool(torch.rand(()) < 0.5) for _ in range(3)]
    assert all(torch.equal(view, features[i, int(flip)]) for i, (view, flip) in enumerate(zip(drawn, flips)))
    assert [dataset[i]["labels"] for i in range(3)] == [0, 1, 0]


@pytest.mark.parametrize("preprocess", ["resize", "crop"])
def test_the_head_on_cached_features_gives_the_models_own_logits(preprocess):
    crops = 3 if preprocess == "crop" else 1
    model, _ = create_model("resnet10t", from_scratch=True, image_size=32, preprocess=preprocess, eval_crops=crops)
    freeze_backbone(model)
    model.eval()
    shape = (4, 3, 3, 32, 32) if preprocess == "crop" else (4, 3, 32, 32)
    pixels = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 1, 1, 0])
    with torch.no_grad():
        expected = model(pixel_values=pixels, labels=labels)
        got = FeatureHead(model)(head_inputs(model, pixels), labels=labels)
    torch.testing.assert_close(got.logits, expected.logits, rtol=0, atol=1e-5)
    torch.testing.assert_close(got.loss, expected.loss, rtol=0, atol=1e-5)


def test_features_are_cached_in_fp32_whatever_bf16_says(deepart_folder, tmp_path):
    flags = ["--dataset", str(deepart_folder), "--model", "efficientnet-lite0-linear", "--image_size", "64"]
    config = deepart_hf.parse_train_arguments([*flags, "--output_dir", str(tmp_path), "--bf16", "true", *FAST_TRAINING])
    model, processor = build_model(config, Task())
    splits = prepare_data(config, processor, Task())
    freeze_backbone(model)
    train_set, evaluation_set = cached_feature_datasets(model, splits.train, splits.evaluation, config.training)
    assert train_set.features.shape == (len(splits.train), 2, 1280) and train_set.features.dtype == torch.float32
    # the validation features are those of the model in fp32, as calibration and the test predictions see them
    model.eval()
    pixels = torch.stack([splits.evaluation[i]["pixel_values"] for i in range(len(splits.evaluation))])
    torch.testing.assert_close(evaluation_set.features, head_inputs(model, pixels), rtol=0, atol=1e-5)


# Calibration and familiarity on cached features against the same model run over the images: the features differ
# only by float rounding (the cached ones computed in the training layout, channels_last, in other batches).
CACHED_TOLERANCE = 1e-5


@pytest.mark.parametrize("preprocess", ["resize", "crop"])
def test_calibration_and_familiarity_read_the_cached_features_as_they_would_the_images(
    preprocess, deepart_folder, tmp_path
):
    flags = ["--dataset", str(deepart_folder), "--model", "efficientnet-lite0-linear", "--image_size", "64"]
    flags += ["--preprocess", preprocess, *(["--eval_crops", "3"] if preprocess == "crop" else [])]
    config = deepart_hf.parse_train_arguments([*flags, "--output_dir", str(tmp_path), *FAST_TRAINING])
    torch.manual_seed(0)
    model, processor = build_model(config, Task())
    splits = prepare_data(config, processor, Task())
    freeze_backbone(model)
    training_layout(model, channels_last=True)  # as the run computes them
    train_set, evaluation_set = cached_feature_datasets(model, splits.train, splits.evaluation, config.training)
    training_layout(model, channels_last=False)
    trainer = make_trainer(
        config, Task(), config.training, model, processor, train_set, evaluation_set, trainer_class=FeatureProbeTrainer
    )
    forward_calls = []
    stem = next(module for module in model.modules() if isinstance(module, torch.nn.Conv2d))
    hook = stem.register_forward_pre_hook(lambda *_: forward_calls.append(1))  # once a batch through the backbone
    try:
        # 4 human validation images serve a 25% target: the threshold sits just above the highest human score
        cached = calibrate(model, target_fpr=0.25, logits=trainer.validation_logits())
        known = trainer.evaluation_image_features()
        stored = fit_familiarity(model, processor, splits, batch_size=8, known=known)
        cached_calls = len(forward_calls)
        from_images = calibrate(model, splits.evaluation, 0.25, batch_size=8)
        read = fit_familiarity(model, processor, splits, batch_size=8)
    finally:
        hook.remove()

    assert from_images.is_calibrated and from_images.details["validation_human"] == 4
    assert cached.threshold_log_odds == pytest.approx(from_images.threshold_log_odds, abs=CACHED_TOLERANCE)
    for key in ("fitted_temperature", "validation_log_loss_before", "validation_tpr_at_threshold"):
        assert cached.details[key] == pytest.approx(from_images.details[key], abs=CACHED_TOLERANCE), key
    assert stored.size == read.size == len(splits.train) + len(splits.evaluation)
    np.testing.assert_allclose(stored.features, read.features, rtol=0, atol=CACHED_TOLERANCE)
    np.testing.assert_allclose(stored.reference_distances, read.reference_distances, rtol=0, atol=CACHED_TOLERANCE)
    assert stored.threshold == pytest.approx(read.threshold, abs=CACHED_TOLERANCE) and stored.threshold > 0.01
    if preprocess == "resize":  # the unflipped training view is the image as the processor gives it
        assert sorted(known) == ["training", "validation"] and cached_calls == 0
    else:  # random crops are no evaluation view: only the training images go through the backbone, once
        assert sorted(known) == ["validation"] and cached_calls == -(-len(splits.train) // 8)


def test_the_test_images_familiarity_comes_from_the_pass_that_scored_them(cached_probe, deepart_folder):
    out, _ = cached_probe
    saved = json.loads((out / REFERENCE_FILE).read_text())
    test = load_splits(str(deepart_folder))["test"]
    rows = {image_id: row for row, image_id in enumerate(test["image_id"])}
    test = test.select([rows[image_id] for image_id in saved["ids"]])  # the 8 of --max_eval_samples, in run order
    # what a second pass over the stored test images would measure
    scored = scored_split(deepart_hf.load_detector(out), test, (), distances=True)
    assert saved["ids"] == scored.ids and len(saved["distances"]) == 8
    np.testing.assert_allclose(saved["distances"], scored.distances, rtol=0, atol=CACHED_TOLERANCE)
    assert np.ptp(scored.distances) > 0.01


def test_cached_features_are_read_in_the_training_process_and_the_head_steps_on_one_thread(deepart_folder, tmp_path):
    flags = ["--dataset", str(deepart_folder), "--model", "efficientnet-lite0-linear", "--image_size", "64"]
    config = deepart_hf.parse_train_arguments(
        [
            *flags,
            "--output_dir",
            str(tmp_path),
            *FAST_TRAINING,
            "--dataloader_num_workers",
            "1",
            "--eval_strategy",
            "no",
        ]
    )
    model, processor = build_model(config, Task())
    splits = prepare_data(config, processor, Task())
    freeze_backbone(model)
    features = torch.randn(8, 2, 1280, generator=torch.Generator().manual_seed(0))
    train_set = CachedFeatures(features, torch.tensor([0, 1] * 4), draws=1)
    trainer = make_trainer(
        config, Task(), config.training, model, processor, train_set, None, trainer_class=FeatureProbeTrainer
    )
    threads = []
    trainer.compute_loss = lambda *args, _own=trainer.compute_loss, **kwargs: (
        threads.append(torch.get_num_threads()) or _own(*args, **kwargs)
    )
    before = torch.get_num_threads()
    trainer.train()
    assert threads == [1, 1] and torch.get_num_threads() == before  # 8 images, batches of 4
    # a worker process only for pixels: the test predictions still decode in one
    assert trainer.get_train_dataloader().num_workers == 0 and trainer.args.dataloader_num_workers == 1
    assert trainer.get_test_dataloader(splits.test).num_workers == 1
