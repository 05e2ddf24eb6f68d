"""train.py end to end on the real DeepArt sample: each model family, the files a run leaves, reload
into pipeline(), resume, eval-only on another dataset, and every bad input as one clear line."""

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, Image, Value

import deepart_hf
import train
from deepart_hf.training.cached_probe import FROZEN_RECORD, frozen_fingerprint
from helpers import FAST_TRAINING, REPO, image_bytes

# --keep_checkpoints: these tests read the checkpoints a finished run would otherwise remove
FAST = [*FAST_TRAINING, "--logging_steps", "1", "--save_total_limit", "3", "--keep_checkpoints"]


@pytest.fixture(scope="module")
def other_folder(tmp_path_factory):
    """A second, unrelated human/ai dataset for cross-dataset evaluation."""
    out = tmp_path_factory.mktemp("data") / "other"
    features = Features({"image": Image(), "label": ClassLabel(names=["human", "ai"])})
    rows = {"image": [{"bytes": image_bytes("PNG", 48, i), "path": f"{i}.png"} for i in range(6)], "label": [0, 1] * 3}
    deepart_hf.publish(DatasetDict({"test": Dataset.from_dict(rows, features=features)}), out)
    return out


def run_train(*argv):
    return train.main([str(a) for a in argv])


def test_vit_trains_on_deepart_and_leaves_a_complete_run(deepart_folder, tmp_path, capsys):
    out = tmp_path / "vit"
    assert (
        run_train(
            "--dataset",
            deepart_folder,
            "--model",
            "vit-test",
            "--from_scratch",
            "--image_size",
            "32",
            "--output_dir",
            out,
            *FAST,
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "Test results" in printed and str(out) in printed
    for name in (
        "metrics.json",
        "predictions.csv",
        "confusion_matrix.png",
        "roc_curve.png",
        "training_curves.png",
        "README.md",
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
    ):
        assert (out / name).is_file(), name
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["test"]["n"] == 8 and 0 <= summary["test"]["accuracy"] <= 1
    lines = (out / "predictions.csv").read_text().splitlines()
    assert lines[0] == "id,label,predicted,prob_ai,log_odds_ai" and len(lines) == 9
    card = (out / "README.md").read_text()
    assert "model-index:" in card and "type: mean_accuracy" in card and "pipeline_tag: image-classification" in card
    # the caveats come from the dataset's card, measured when it was built
    assert (
        "File format is confounded with the label" in card
        and "Every human image comes from one source (Feng Zikai)" in card
    )


def test_timm_cnn_with_native_crops_multi_crop_eval_and_blur_jpeg(deepart_folder, tmp_path):
    out = tmp_path / "resnet"
    assert (
        run_train(
            "--dataset",
            deepart_folder,
            "--model",
            "resnet18",
            "--from_scratch",
            "--preprocess",
            "crop",
            "--image_size",
            "64",
            "--eval_crops",
            "3",
            "--blur_jpeg_prob",
            "0.5",
            "--output_dir",
            out,
            *FAST,
        )
        == 0
    )
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["preprocessing"].startswith("native resolution, 64x64 crops: 3 fixed crops, probabilities averaged")
    assert "blur (sigma 0,3) and JPEG" in summary["preprocessing"]
    assert (
        summary["test"]["n"] == 8 and len((out / "predictions.csv").read_text().splitlines()) == 9
    )  # one row per image, not per crop


def test_an_interrupted_run_resumes_from_its_last_checkpoint(deepart_folder, tmp_path, caplog):
    out = tmp_path / "resume"
    command = [
        "--dataset",
        deepart_folder,
        "--model",
        "vit-test",
        "--from_scratch",
        "--image_size",
        "32",
        "--output_dir",
        out,
        *FAST,
        "--num_train_epochs",
        "2",
    ]
    assert run_train(*command) == 0
    # as if the run had died during its second epoch: no marker, no second checkpoint
    (out / "metrics.json").unlink()
    shutil.rmtree(out / "checkpoint-4")
    assert run_train(*command) == 0
    assert "resuming from" in caplog.text and "checkpoint-2" in caplog.text
    state = json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4 and state["epoch"] == 2


def test_a_finished_run_is_not_overwritten_and_another_command_cannot_resume_it(deepart_folder, tmp_path, capsys):
    out = tmp_path / "run"
    base = ["--dataset", deepart_folder, "--from_scratch", "--image_size", "32", "--output_dir", out, *FAST]
    assert run_train(*base, "--model", "vit-test") == 0
    assert json.loads((out / "run_args.json").read_text())["identity"]["model"]["model"] == "vit-test"
    assert run_train(*base, "--model", "vit-test") == 2
    assert "holds a finished run; pass --overwrite_output_dir" in capsys.readouterr().err
    (out / "metrics.json").unlink()  # as if interrupted
    for other, difference in (
        (["--model", "vit-tiny"], "--model 'vit-test' -> 'vit-tiny'"),  # same model type, another architecture
        (["--model", "vit-test", "--learning_rate", "0.01"], "--learning_rate 5e-05 -> 0.01"),
        (["--model", "vit-test", "--preprocess", "crop"], "--preprocess None -> 'crop'"),
    ):
        assert run_train(*base, *other) == 2
        errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and "holds a run started with other arguments: " + difference in errors[0], errors


def test_a_checkpoint_of_another_architecture_is_refused_by_name(deepart_folder, tmp_path, capsys):
    foreign = tmp_path / "foreign"
    assert (
        run_train(
            "--dataset",
            deepart_folder,
            "--model",
            "vit-test",
            "--from_scratch",
            "--image_size",
            "32",
            "--output_dir",
            foreign,
            *FAST,
        )
        == 0
    )
    status = run_train(
        "--dataset",
        deepart_folder,
        "--model",
        "resnet18",
        "--from_scratch",
        "--image_size",
        "32",
        "--output_dir",
        tmp_path / "new",
        "--resume_from_checkpoint",
        foreign / "checkpoint-2",
        *FAST,
    )
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert (
        status == 2
        and len(errors) == 1
        and "was saved from another model (model_type 'vit', this run builds 'timm_wrapper')" in errors[0]
    )


def test_overwrite_starts_every_stage_afresh(deepart_folder, tmp_path, caplog):
    out = tmp_path / "stages"
    command = [
        "--dataset",
        deepart_folder,
        "--model",
        "vit-test",
        "--from_scratch",
        "--image_size",
        "32",
        "--output_dir",
        out,
        "--freeze_backbone",
        "--unfreeze_epochs",
        "1",
        *FAST,
    ]
    assert run_train(*command) == 0
    (out / "unfrozen" / "checkpoint-2" / "stale").write_text("from the first run")
    (out / "checkpoint-2" / "stale").write_text("from the first run")
    assert run_train(*command, "--overwrite_output_dir") == 0
    assert "resuming from" not in caplog.text  # neither stage resumed the previous run's checkpoints
    assert not (out / "unfrozen" / "checkpoint-2" / "stale").exists() and not (out / "checkpoint-2" / "stale").exists()
    assert (out / "checkpoint-2" / "trainer_state.json").is_file() and (
        out / "unfrozen" / "checkpoint-2" / "trainer_state.json"
    ).is_file()


def test_eval_only_on_another_dataset(deepart_folder, other_folder, tmp_path):
    model_dir = tmp_path / "model"
    assert (
        run_train(
            "--dataset",
            deepart_folder,
            "--model",
            "vit-test",
            "--from_scratch",
            "--image_size",
            "32",
            "--output_dir",
            model_dir,
            *FAST,
        )
        == 0
    )
    out = tmp_path / "cross"
    assert (
        run_train(
            "--eval_only",
            "--model_name_or_path",
            model_dir,
            "--dataset",
            other_folder,
            "--output_dir",
            out,
            "--dataloader_num_workers",
            "0",
        )
        == 0
    )
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["test"]["n"] == 6 and summary["hyperparameters"] is None
    assert (out / "predictions.csv").is_file() and not (out / "README.md").exists()


def write_dataset(folder, features, rows):
    splits = {name: Dataset.from_dict(rows, features=features) for name in ("train", "validation", "test")}
    deepart_hf.publish(DatasetDict(splits), folder)
    return folder


@pytest.mark.parametrize(
    "case, message",
    [
        ("unknown_model", "unknown model 'resnet9000'"),
        ("no_label", "has no 'label' column"),
        ("wrong_labels", "column 'label' must be ClassLabel['human', 'ai'], found ['real', 'fake']"),
        ("empty_split", "has no 'train' split (it has validation, test)"),
        ("corrupt_image", "cannot decode image 'broken.png'"),
        ("pairs_config", "has no 'image' or 'label' column"),
        ("offline_pretrained", "use --from_scratch"),
        ("missing_dataset", "no such folder, and not a Hub id"),
        ("hub_dataset_offline", "cannot be loaded from the Hub"),
    ],
)
def test_bad_input_is_one_clear_line(case, message, tmp_path, deepart_folder, capsys):
    labels = ClassLabel(names=["human", "ai"])
    good = [{"bytes": image_bytes("PNG", 32, i), "path": f"{i}.png"} for i in range(4)]
    dataset, extra = str(deepart_folder), []
    model = ["--model", "vit-test", "--from_scratch"]
    if case == "unknown_model":
        model = ["--model", "resnet9000", "--from_scratch"]
    elif case == "no_label":
        dataset = write_dataset(
            tmp_path / "d", Features({"image": Image(), "kind": Value("string")}), {"image": good, "kind": ["a"] * 4}
        )
    elif case == "wrong_labels":
        dataset = write_dataset(
            tmp_path / "d",
            Features({"image": Image(), "label": ClassLabel(names=["real", "fake"])}),
            {"image": good, "label": [0, 1, 0, 1]},
        )
    elif case == "empty_split":
        splits = {
            name: Dataset.from_dict(
                {"image": good if name != "train" else [], "label": [0, 1, 0, 1] if name != "train" else []},
                features=Features({"image": Image(), "label": labels}),
            )
            for name in ("train", "validation", "test")
        }
        dataset = deepart_hf.publish(DatasetDict(splits), tmp_path / "d").path
    elif case == "corrupt_image":
        broken = good[:3] + [{"bytes": good[0]["bytes"][:40], "path": "broken.png"}]
        dataset = write_dataset(
            tmp_path / "d", Features({"image": Image(), "label": labels}), {"image": broken, "label": [0, 1, 0, 1]}
        )
    elif case == "pairs_config":
        extra = ["--dataset_config", "pairs"]
    elif case == "offline_pretrained":
        model = ["--model", "resnet18"]
    elif case == "missing_dataset":
        dataset = str(tmp_path / "nowhere")
    elif case == "hub_dataset_offline":
        dataset = "someone/some-dataset"
    status = run_train(
        "--dataset", dataset, *extra, *model, "--image_size", "32", "--output_dir", tmp_path / "out", *FAST
    )
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("error: ")]
    assert status == 2
    assert len(errors) == 1 and message in errors[0], err
    assert not any("Traceback" in line for line in err)


def test_offline_push_fails_in_one_line_after_everything_is_saved(deepart_folder, tmp_path, capsys):
    out = tmp_path / "pushed"
    status = run_train(
        "--dataset",
        deepart_folder,
        "--model",
        "vit-test",
        "--from_scratch",
        "--image_size",
        "32",
        "--output_dir",
        out,
        "--push_to_hub",
        "--hub_model_id",
        "me/detector",
        *FAST,
    )
    assert status == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith("error: push to me/detector failed")
    assert (out / "model.safetensors").is_file() and (out / "README.md").is_file() and (out / "metrics.json").is_file()


def test_two_cpu_processes_train_with_gloo(deepart_folder, tmp_path):
    """The distributed path: torchrun starts two processes, the Trainer uses DDP over gloo."""
    out = tmp_path / "ddp"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    with socket.socket() as probe:  # a free port, so parallel or repeated runs never collide
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            str(port),
            str(REPO / "train.py"),
            "--dataset",
            deepart_folder,
            "--model",
            "vit-test",
            "--from_scratch",
            "--image_size",
            "32",
            "--output_dir",
            out,
            *FAST,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    state = json.loads((out / "checkpoint-1" / "trainer_state.json").read_text())
    assert state["global_step"] == 1  # 8 images / (2 processes x batch 4)
    assert json.loads((out / "metrics.json").read_text())["test"]["n"] == 8


def test_frozen_backbone_then_unfrozen_epochs_with_step_lr(deepart_folder, tmp_path):
    """The Dall·E-vs-paintings project's models 3/4: head only with StepLR, then every layer; checkpoints show which weights moved."""
    from safetensors.torch import load_file

    out = tmp_path / "stages"
    assert (
        run_train(
            "--dataset",
            deepart_folder,
            "--protocol",
            "dalle",
            "--model",
            "vit-test",
            "--from_scratch",
            "--image_size",
            "32",
            "--output_dir",
            out,
            *FAST,
            "--num_train_epochs",
            "2",
            "--step_lr_epochs",
            "1",
            "--step_lr_gamma",
            "0.1",
            "--unfreeze_epochs",
            "1",
        )
        == 0
    )
    # the frozen stage's checkpoints hold the head alone, with the fingerprint of the backbone it never moved
    first, second = (load_file(out / f"checkpoint-{step}" / "model.safetensors") for step in (2, 4))
    frozen = [json.loads((out / f"checkpoint-{step}" / FROZEN_RECORD).read_text()) for step in (2, 4)]
    assert sorted(first) == sorted(second) == ["classifier.bias", "classifier.weight"]
    assert frozen[0] == frozen[1]
    assert not (first["classifier.weight"] == second["classifier.weight"]).all()  # ... while the head learned
    final = load_file(out / "model.safetensors")
    assert frozen_fingerprint(final, list(first)) != frozen[0]["frozen_sha256"]  # unfrozen stage moved the backbone
    assert "vit.encoder.layer.0.attention.attention.query.weight" in load_file(
        out / "unfrozen" / "checkpoint-2" / "model.safetensors"
    )  # ... and its checkpoints are whole
    assert (out / "unfrozen" / "checkpoint-2").is_dir()
    rates = [
        e["learning_rate"]
        for e in json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())["log_history"]
        if "learning_rate" in e
    ]
    assert rates[0] == pytest.approx(1e-3) and rates[-1] == pytest.approx(1e-4)  # StepLR: x0.1 after the first epoch


def test_the_console_shows_one_line_per_evaluation_and_nothing_noisy(deepart_folder, tmp_path, capfd, recwarn):
    out = tmp_path / "quiet"
    assert (
        run_train(
            "--dataset",
            deepart_folder,
            "--model",
            "vit-test",
            "--from_scratch",
            "--image_size",
            "32",
            "--output_dir",
            out,
            *FAST,
            "--num_train_epochs",
            "2",
        )
        == 0
    )
    printed = "".join(capfd.readouterr())
    evaluations = [line for line in printed.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in evaluations] == ["epoch 1", "epoch 2"]
    assert all("validation accuracy" in line and "auroc" in line and "cm_" not in line for line in evaluations)
    for noise in ("{'loss'", "'eval_", "cm_human_as_ai", "Writing model shards", "Loading weights", "pin_memory"):
        assert noise not in printed, noise
    assert not [w for w in recwarn if "pin_memory" in str(w.message)]
    # everything the console leaves out is in the files
    history = json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())["log_history"]
    assert any("loss" in entry for entry in history) and any("eval_mean_accuracy" in entry for entry in history)
