"""transforms -> model -> Trainer -> metrics: the training path, readable top to bottom in ``train``.

Everything distributed (DDP over several GPUs or nodes, gloo on CPUs, mixed precision) is the Trainer's,
through accelerate. This module adds what a reproducible detector needs: the seed set before the model is
built, the preprocessing saved with the model, a run folder that records its config and is only resumed by
the same config, and a frozen-then-unfrozen schedule.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
from collections import Counter
from dataclasses import asdict, replace
from pathlib import Path

import torch
from accelerate.utils import extract_model_from_parallel
from datasets import Dataset
from transformers import TrainingArguments, set_seed

from ..data.internals import split_fingerprint
from ..data.loading import DATASET_COLUMN, checked_split, combine_datasets, ensure_synthetic, load_splits
from ..data.pixel_cache import PixelCache, pixel_cache
from ..errors import DeepArtError
from ..evaluation.calibration import calibrate
from ..files import write_json
from ..models import create_model, freeze_backbone, load_trained, unfreeze_all
from ..models.crop_detector import CropImageProcessor
from ..models.familiarity import DEFAULT_K, FAMILIARITY_FILE, Familiarity
from ..models.preprocessing import PixelValues, collate, preprocess_mode, processor_geometry
from .arguments import cpu_bf16_supported
from .augment import TrainTransform, pre_resize, training_augmentation
from .cached_probe import FeatureProbeTrainer, cached_feature_datasets, cached_features_apply
from .config import FINISHED_MARKER, TrainConfig, config_command, identity_differences, is_finished, run_identity
from .familiarity import fit_familiarity
from .prepared_splits import Splits
from .prepared_streams import prepare_streams
from .report import evaluate_and_report, push_run
from .result import RunResult
from .task import Task, resolve_task, synthetic_generators
from .trainer import DetectorTrainer

logger = logging.getLogger(__name__)

RUN_RECORD = "run_args.json"  # the config a run was started with
TRAINER_STATE = "trainer_state.json"  # the last file the Trainer writes into a checkpoint
UNFROZEN_STAGE = "unfrozen"


def train(config: TrainConfig) -> RunResult:
    """The whole job: seed, model, data, training, test evaluation, report, card, push."""
    from .model_card import read_cross_source_report

    read_cross_source_report(config)  # a report of other datasets stops the run before it trains
    training = config.training
    set_seed(training.seed)  # before the model is built: its random initial weights are part of the run
    task = resolve_task(config)
    model, processor = build_model(config, task)
    if config.data.streaming:
        splits = prepare_streams(config, processor, task)
    else:
        splits = prepare_data(config, processor, task)
    if config.run.eval_only:
        claim_output_dir(config, splits.fingerprint, resumable=False)
        # fp32 whatever --bf16 says: the predictions must be those of the saved model loaded again
        trainer, history = (
            make_trainer(config, task, replace(training, eval_strategy="no", bf16=False), model, processor, None, None),
            [],
        )
    else:
        check_something_to_learn(training, splits.train)
        resume = claim_output_dir(config, splits.fingerprint, resumable=True)
        if training.process_index == 0:
            print(f"Training precision: {training_precision(training)}")
            if splits.train_sources is not None:
                counts = ", ".join(f"{name} {n}" for name, n in sorted(Counter(splits.train_sources).items()))
                print(f"Training sources weigh the same (--balance_sources): each epoch draws equally from {counts}")
        trainer, history = train_model(
            config, task, model, processor, splits.train, splits.evaluation, resume, splits.train_sources
        )
        # A probe trained on cached features has its validation images' logits and features (and its training
        # images', without augmentation) already: calibration and familiarity run no image through the backbone.
        cached = trainer if isinstance(trainer, FeatureProbeTrainer) else None
        # Decide how to decide: temperature and threshold from the validation split, saved with the model.
        calibration = (
            calibrate(
                model,
                splits.evaluation,
                config.run.target_fpr,
                training.per_device_eval_batch_size,
                logits=cached.validation_logits() if cached else None,
            )
            if splits.evaluation and task.calibrates
            else None
        )
        if calibration is not None:
            trainer.save_model(training.output_dir)
        # Where the detector stands: its training and validation images' features, stored beside the model.
        if training.process_index == 0:
            store_familiarity(
                model, processor, splits, training, known=cached.evaluation_image_features() if cached else None
            )
    # The run's demo (app.py, requirements.txt and examples); its code goes with every push. Before the report,
    # whose metrics.json marks the run finished: a kill in between leaves it unfinished.
    if not config.run.eval_only and trainer.is_world_process_zero():
        write_run_demo(training.output_dir, splits)
    result = evaluate_and_report(config, task, trainer, model, processor, splits, history)
    if not config.run.eval_only and not config.run.keep_checkpoints and trainer.is_world_process_zero():
        remove_checkpoints(Path(training.output_dir))
    if config.push_to_hub and trainer.is_world_process_zero():
        push_run(config, training.output_dir)
        from ..inference.space import push_demo_code

        push_demo_code(training.hub_model_id or Path(training.output_dir).name, token=training.hub_token)
    if config.run.push_space and trainer.is_world_process_zero():
        from ..inference.space import push_space

        push_space(
            training.output_dir,
            config.run.push_space,
            token=training.hub_token,
            private=bool(getattr(training, "hub_private_repo", False)),
        )
    return result


def finished_run(config: TrainConfig) -> RunResult | None:
    """The result of a finished run of this config in its output folder, read back; None when the folder holds
    no finished run. A finished run recorded with other arguments is refused, naming the first difference (the
    data's fingerprint aside: a study rewrites its derived datasets)."""
    out = config.output_dir
    if not (is_finished(out) and (out / RUN_RECORD).is_file()):
        return None
    recorded = json.loads((out / RUN_RECORD).read_text())["identity"]
    recorded.pop("dataset_fingerprint", None)
    differences = identity_differences(recorded, run_identity(config))
    if differences:
        raise DeepArtError(
            f"{out} holds a finished run with other arguments ({differences[0]}); remove it or choose another folder"
        )
    summary = json.loads((out / FINISHED_MARKER).read_text())
    return RunResult(out, summary["test"], Task.from_summary(summary), (), summary, reused=True)


def store_familiarity(
    model, processor, splits: Splits, training: TrainingArguments, known: dict | None = None
) -> Familiarity | None:
    """Fit and save the familiarity of the trained model into the run folder, saying in one line what was
    stored; a previous run's file goes when this one has too few images to store any. ``known``: features the
    run has computed already (``fit_familiarity``)."""
    familiarity = fit_familiarity(
        model, processor, splits, batch_size=training.per_device_eval_batch_size, seed=training.seed, known=known
    )
    out = Path(training.output_dir)
    if familiarity is None:
        (out / FAMILIARITY_FILE).unlink(missing_ok=True)
        print(f"Familiarity: not stored (the training and validation splits hold {DEFAULT_K} images or fewer)")
        return None
    familiarity.save(out)
    print(f"Familiarity ({FAMILIARITY_FILE}): {familiarity.describe()}")
    return familiarity


def write_run_demo(output_dir: str, splits: Splits) -> None:
    """The demo files beside the model, with example images from the test split as stored (not pre-resized;
    none for a stream)."""
    from ..inference.space import write_space_files

    write_space_files(output_dir, splits.raw_test)


# --- model -------------------------------------------------------------------------------------------------------


def build_model(config: TrainConfig, task: Task):
    """A new detector from the registry, or a trained one with the preprocessing it was saved with."""
    data, trained = config.data, config.model.model_name_or_path
    if config.run.eval_only and not trained:
        raise DeepArtError("--eval_only needs --model_name_or_path (a trained detector's folder or Hub id)")
    if not trained:
        return create_model(
            config.model.model,
            from_scratch=config.model.from_scratch,
            image_size=data.image_size,
            preprocess=data.preprocess or "resize",
            eval_crops=data.eval_crops or 1,
            labels=task.head_classes,
            pretrained_weights=config.model.pretrained_weights,
            probe_stages=config.model.probe_stages,
            probe_views=config.model.views,
        )
    model, processor = load_trained(trained, attribution=task.is_attribution)
    task.check_model(model, trained)
    saved_mode, (saved_size, _, _) = preprocess_mode(processor), processor_geometry(processor)
    where = f"{trained} was trained with"
    if data.preprocess and data.preprocess != saved_mode:
        raise DeepArtError(
            f"{where} --preprocess {saved_mode}; drop --preprocess {data.preprocess} (a detector keeps its preprocessing)"
        )
    if data.image_size and data.image_size != saved_size:
        raise DeepArtError(
            f"{where} --image_size {saved_size}; drop --image_size {data.image_size} (a detector keeps its preprocessing)"
        )
    if data.eval_crops:
        if not isinstance(processor, CropImageProcessor):
            raise DeepArtError(f"{where} --preprocess resize, which has one view per image; drop --eval_crops")
        # averaging more (or fewer) crops of the same model is a fair question
        processor = type(processor).from_dict({**processor.to_dict(), "eval_crops": data.eval_crops})
    return model, processor


# --- data --------------------------------------------------------------------------------------------------------


def prepare_data(config: TrainConfig, processor, task: Task) -> Splits:
    """The splits with their transforms set. Several datasets are mixed for training and validation and kept
    apart in the test split by a ``dataset`` column, so each source is reported on its own. The task's target
    (an attribution run's --label_column) becomes the ``label`` the transforms read."""
    data, training = config.data, config.training
    classes = list(task.classes)
    with training.main_process_first(desc="preparing the dataset"):
        if config.synthetic:
            ensure_synthetic(
                data.synthetic_n_per_class, data.synthetic_image_size, training.seed, synthetic_generators(task.kind)
            )
        parts = {name: [] for name in ("train", "evaluation", "test")}
        fingerprint = {}
        several = len(config.datasets) > 1
        for dataset, dataset_config in config.datasets:
            where = f"dataset {dataset}" + (f" ({dataset_config})" if dataset_config else "")
            splits = task.target(load_splits(dataset, dataset_config), where)
            name = Path(dataset.rstrip("/")).name + (f"@{dataset_config}" if dataset_config and several else "")
            # A split's fingerprint (datasets' hash of its data and the transforms that made it) is what tells a
            # changed dataset from the recorded one.
            fingerprint.update(
                {(f"{name}/{split}" if several else split): split_fingerprint(s) for split, s in splits.items()}
            )
            if not config.run.eval_only:
                parts["train"].append(
                    (name, checked_split(splits, data.train_split, where, data.max_train_samples, classes))
                )
                if data.eval_split:
                    parts["evaluation"].append(
                        (name, checked_split(splits, data.eval_split, where, data.max_eval_samples, classes))
                    )
            parts["test"].append((name, checked_split(splits, data.test_split, where, data.max_eval_samples, classes)))
        train, evaluation, test = (
            combine_datasets(parts[key]) if parts[key] else None for key in ("train", "evaluation", "test")
        )
        train_sources = (
            list(train.with_format(None)[DATASET_COLUMN]) if train is not None and balances_sources(config) else None
        )
        raw_test = test.with_format(None)  # its own object: set_transform below changes `test` in place
        if preprocess_mode(processor) == "resize":
            # Decode and resize each image once instead of once per epoch (the pixels the processor gives are
            # the same). Blur/JPEG augmentation must see the full-size image, so then training decodes as it goes.
            evaluation, test = (
                pre_resize(split, processor) if split is not None else None for split in (evaluation, test)
            )
            if train is not None and not data.blur_jpeg_prob:
                train = pre_resize(train, processor)
        # Full-size images read by every epoch are decoded once, by one process, into the pixel cache.
        pixels = {
            name: cached_pixels(config, processor, name, split)
            for name, split in (("train", train), ("evaluation", evaluation))
        }
    if train is not None:
        train.set_transform(TrainTransform(processor, training_augmentation(data), pixels["train"]))
    for split, cache in ((evaluation, pixels["evaluation"]), (test, None)):
        if split is not None:
            split.set_transform(PixelValues(processor, cache))
    return Splits(train, evaluation, test, raw_test, fingerprint, train_sources=train_sources)


def balances_sources(config: TrainConfig) -> bool:
    """Several datasets, drawn an equal share each per epoch (``--balance_sources``, on by default)."""
    return len(config.datasets) > 1 and config.data.balance_sources and not config.data.streaming


def cached_pixels(config: TrainConfig, processor, name: str, split) -> PixelCache | None:
    """The pixel cache of a split whose full-size images are read every epoch: training and validation in crop
    mode, training with blur/JPEG in resize mode (which cannot be pre-resized). The test split is read once,
    and a pre-resized split holds small images already."""
    if split is None or not config.run.pixel_cache:
        return None
    crop = preprocess_mode(processor) == "crop"
    if not (crop or (name == "train" and config.data.blur_jpeg_prob)):
        return None
    return pixel_cache(split)


def check_something_to_learn(training: TrainingArguments, train) -> None:
    """Refuse, before anything is written, a training that would save an untrained or one-class model as a detector."""
    if training.max_steps <= 0 and training.num_train_epochs <= 0:
        raise DeepArtError(
            f"--num_train_epochs {training.num_train_epochs:g} trains nothing (no optimizer step); give at least one "
            "epoch or --max_steps, or evaluate a trained detector with --eval_only --model_name_or_path"
        )
    if not isinstance(train, Dataset):  # a stream: its classes are only known once it has been read
        return
    present = sorted(train.unique("label"))
    if len(present) < 2:
        feature = train.features["label"]
        names = [feature.int2str(label) if hasattr(feature, "int2str") else str(label) for label in present]
        raise DeepArtError(
            f"the training split holds {len(train)} images of one class only ({', '.join(names) or 'none'}); "
            "a detector needs examples of every class to learn from"
        )


# --- the run folder ----------------------------------------------------------------------------------------------


def claim_output_dir(config: TrainConfig, fingerprint: dict, *, resumable: bool) -> dict:
    """Check the output folder against this config and record the config there.

    Returns {stage: checkpoint to resume} for an interrupted run of the same command. A finished run, or a run
    started with other arguments or data, is refused in one line naming the difference, unless
    --overwrite_output_dir, which removes the previous run's checkpoints so every stage starts afresh.
    """
    training = config.training
    out = Path(training.output_dir)
    identity = {**run_identity(config), "dataset_fingerprint": fingerprint}
    if config.run.overwrite_output_dir:
        if training.process_index == 0:
            clear_previous_run(out)
        resume = {}
    else:
        if is_finished(out):
            raise DeepArtError(
                f"{out} holds a finished run; pass --overwrite_output_dir to replace it, or another --output_dir"
            )
        resume, incomplete = _checkpoints(out) if resumable else ({}, [])
        record = out / RUN_RECORD
        if record.is_file():
            differences = identity_differences(json.loads(record.read_text())["identity"], identity)
            if differences:
                more = f" (and {len(differences) - 1} more)" if len(differences) > 1 else ""
                raise DeepArtError(
                    f"{out} holds a run started with other arguments: {differences[0]}{more}; "
                    "pass --overwrite_output_dir to start it again, or choose another --output_dir"
                )
        elif resume or incomplete:
            raise DeepArtError(
                f"{out} holds checkpoints of an unrecorded run; pass --overwrite_output_dir to replace them, or another --output_dir"
            )
        if training.process_index == 0:
            for checkpoint in incomplete:
                # the Trainer writes trainer_state.json last: without it, the save was cut short
                logger.warning(
                    "removing %s: %s, its save was interrupted", checkpoint, incomplete_checkpoint(checkpoint)
                )
                shutil.rmtree(checkpoint)
    explicit = training.resume_from_checkpoint
    if explicit and explicit.lower() not in ("true", "last"):
        if not Path(explicit).is_dir():
            raise DeepArtError(f"--resume_from_checkpoint {explicit}: no such folder")
        resume = {"first": explicit}
    elif explicit and not resume:
        raise DeepArtError(f"--resume_from_checkpoint {explicit}: no checkpoint in {out}")
    if training.process_index == 0:
        write_json(out / RUN_RECORD, {"identity": identity, "arguments": _resolved_arguments(config)})
    return resume


def _checkpoints(out: Path) -> tuple[dict, list[Path]]:
    """{stage: its last complete checkpoint}, and the newer checkpoints a kill left incomplete."""
    found, incomplete = {}, []
    for stage, folder in (("first", out), (UNFROZEN_STAGE, out / UNFROZEN_STAGE)):
        numbered = sorted(folder.glob("checkpoint-*"), key=_step, reverse=True) if folder.is_dir() else []
        for checkpoint in (path for path in numbered if path.is_dir() and _step(path) >= 0):
            if incomplete_checkpoint(checkpoint) is None:
                found[stage] = str(checkpoint)
                break
            incomplete.append(checkpoint)
    return found, incomplete


def _step(checkpoint: Path) -> int:
    step = checkpoint.name.removeprefix("checkpoint-")
    return int(step) if step.isdigit() else -1


def incomplete_checkpoint(checkpoint: Path) -> str | None:
    """Why ``checkpoint`` cannot be resumed from, or None when it is complete."""
    if not (checkpoint / "config.json").is_file():
        return "no config.json"
    try:
        json.loads((checkpoint / TRAINER_STATE).read_text())
    except FileNotFoundError:
        return f"no {TRAINER_STATE}"
    except (OSError, ValueError):
        return f"unreadable {TRAINER_STATE}"
    return None


def clear_previous_run(out: Path) -> None:
    """What would make a new run resume or look finished: checkpoints of both stages, the record, the marker.
    Only a folder holding the run record is a previous run's: names like these without it are someone else's,
    refused in one line before anything is deleted."""
    found = [
        *sorted(out.glob("checkpoint-*")),
        *(p for p in (out / UNFROZEN_STAGE, out / FINISHED_MARKER) if p.exists()),
    ]
    if found and not (out / RUN_RECORD).is_file():
        raise DeepArtError(
            f"{out} holds {found[0].name} but no {RUN_RECORD}, so no training run wrote it: --overwrite_output_dir "
            "deleted nothing; move it away or choose another --output_dir"
        )
    for path in [*out.glob("checkpoint-*"), out / UNFROZEN_STAGE]:
        shutil.rmtree(path, ignore_errors=True)
    for name in (FINISHED_MARKER, RUN_RECORD):
        (out / name).unlink(missing_ok=True)


def remove_checkpoints(out: Path) -> None:
    """A finished run needs its checkpoints no more (the model is at the top of the folder): they go, after the
    finished marker, so a kill before that leaves them to resume from."""
    for path in [*out.glob("checkpoint-*"), *(out / UNFROZEN_STAGE).glob("checkpoint-*")]:
        shutil.rmtree(path, ignore_errors=True)
    with contextlib.suppress(OSError):
        (out / UNFROZEN_STAGE).rmdir()  # only when nothing else is in it


def _resolved_arguments(config: TrainConfig) -> dict:
    return {
        "model": asdict(config.model),
        "data": asdict(config.data),
        "run": asdict(config.run),
        "training": json.loads(config.training.to_json_string()),
        "protocol": config.protocol_name,
        "push_to_hub": config.push_to_hub,
        "command": config_command(config),
    }


def check_checkpoint_matches(checkpoint: str, model) -> None:
    """Resuming resnet50 weights into a ViT (or vit-test into vit-tiny) fails deep inside torch; say what differs."""
    config_file = Path(checkpoint) / "config.json"
    if not config_file.is_file():
        raise DeepArtError(f"{checkpoint} is not a checkpoint folder (no config.json)")
    saved = json.loads(config_file.read_text())
    # as JSON reads it back: timm's pretrained_cfg holds tuples in memory (input_size, mean, std), lists on disk
    current = json.loads(model.config.to_json_string(use_diff=False))
    if saved.get("model_type") == current.get("model_type"):
        # read through the same config class, so defaults left out of the file compare equal
        saved = json.loads(type(model.config).from_dict(saved).to_json_string(use_diff=False))
    saved, current = _architecture(saved), _architecture(current)
    differing = sorted(
        (key != "model_type", key) for key in set(saved) | set(current) if saved.get(key) != current.get(key)
    )
    if differing:
        key = differing[0][1]
        raise DeepArtError(
            f"checkpoint {checkpoint} was saved from another model ({key} {saved.get(key)!r}, this run builds "
            f"{current.get(key)!r}); use another --output_dir or the matching --model"
        )


def _architecture(config: dict) -> dict:
    """The config entries that decide the shape of the weights (not names, versions, dtypes or label names)."""
    ignored = {
        "_name_or_path",
        "transformers_version",
        "dtype",
        "torch_dtype",
        "architectures",
        "base_model_id",
        "auto_map",
        "id2label",
        "label2id",
        "label_names",
        "problem_type",
    }
    flat = {}
    for key, value in config.items():
        if key in ignored:
            continue
        if isinstance(value, dict) and key.endswith("_config"):
            flat.update({f"{key}.{k}": v for k, v in _architecture(value).items()})
        else:
            flat[key] = value
    return flat


# --- training ----------------------------------------------------------------------------------------------------


def make_trainer(
    config: TrainConfig,
    task: Task,
    training: TrainingArguments,
    model,
    processor,
    train,
    evaluation,
    stage: str | None = None,
    split_by_node: bool = False,
    train_sources: list[str] | None = None,
    trainer_class: type[DetectorTrainer] = DetectorTrainer,
) -> DetectorTrainer:
    return trainer_class(
        model=model,
        args=training,
        train_dataset=train,
        eval_dataset=evaluation,
        data_collator=collate,
        processing_class=processor,
        compute_metrics=task.compute_metrics(),
        step_lr_epochs=config.run.step_lr_epochs,
        step_lr_gamma=config.run.step_lr_gamma,
        stage=stage,
        split_by_node=split_by_node,
        train_sources=train_sources,
    )


def train_model(
    config: TrainConfig,
    task: Task,
    model,
    processor,
    train,
    evaluation,
    resume: dict,
    train_sources: list[str] | None = None,
) -> tuple[DetectorTrainer, list[dict]]:
    """Train (frozen backbone first if asked, then unfrozen); returns the last trainer and the whole log, whose
    epochs count on from one stage to the next. ``train_sources``: each training row's source, drawn an equal
    share each per epoch."""
    training = config.training
    if evaluation is None:
        training = replace(training, eval_strategy="no")
    stages = [("frozen" if config.model.freeze_backbone else "training", training)]
    if config.model.unfreeze_epochs > 0:
        if not config.model.freeze_backbone:
            raise DeepArtError("--unfreeze_epochs continues a --freeze_backbone run; add --freeze_backbone")
        # The second stage is a fresh Trainer: DDP must see the newly trainable parameters from the start.
        unfrozen_dir = str(Path(training.output_dir) / UNFROZEN_STAGE)
        stages.append(
            (UNFROZEN_STAGE, replace(training, num_train_epochs=config.model.unfreeze_epochs, output_dir=unfrozen_dir))
        )

    history: list[dict] = []
    trainer, epochs_before = None, 0.0
    training_layout(model, channels_last=True)
    for index, (stage, stage_args) in enumerate(stages):
        if stage == "frozen":
            freeze_backbone(model)
        elif stage == UNFROZEN_STAGE:
            unfreeze_all(model)
        if index == 0 and UNFROZEN_STAGE in resume:
            # The first stage finished before the interruption: its weights are in the unfrozen checkpoint.
            history += _stage_history(_logged_history(resume.get("first")), stage, epochs_before)
            epochs_before += stage_args.num_train_epochs
            continue
        checkpoint = resume.get("first" if index == 0 else UNFROZEN_STAGE)
        if checkpoint:
            check_checkpoint_matches(checkpoint, model)
            logger.warning("resuming from %s", checkpoint)
        # A frozen backbone's features never change: its head trains on them, computed once (cached_probe.py).
        cached = stage == "frozen" and cached_features_apply(config.run.feature_cache, stage_args, train)
        stage_train, stage_evaluation = (
            cached_feature_datasets(model, train, evaluation, stage_args) if cached else (train, evaluation)
        )
        trainer = make_trainer(
            config,
            task,
            stage_args,
            model,
            processor,
            stage_train,
            stage_evaluation,
            stage=stage if len(stages) > 1 else None,
            split_by_node=config.data.streaming,
            train_sources=train_sources,
            trainer_class=FeatureProbeTrainer if cached else DetectorTrainer,
        )
        trainer.train(resume_from_checkpoint=checkpoint)
        # accelerate's autocast around forward (--bf16) comes off after each stage, else the next would wrap it again
        extract_model_from_parallel(model, keep_fp32_wrapper=False)
        history += _stage_history(trainer.state.log_history, stage, epochs_before)
        epochs_before += stage_args.num_train_epochs
    training_layout(model, channels_last=False)
    trainer.save_model(training.output_dir)  # model + processor, at the top of the run folder
    return trainer, history


def training_precision(training: TrainingArguments) -> str:
    """What the training steps compute in, in words (calibration and predictions are fp32 in every case)."""
    if training.bf16 or training.fp16:
        return f"{'bf16' if training.bf16 else 'fp16'} autocast (calibration and predictions in fp32)"
    if training.use_cpu or not torch.cuda.is_available():
        native = cpu_bf16_supported()
        return "fp32" + ("" if native else " (this CPU has no native bf16)")
    return "fp32"


CHANNELS_LAST_MIN_CONVS = 4  # a CNN, not a ViT with its one patch-embedding convolution


def training_layout(model, *, channels_last: bool) -> None:
    """Channels-last weights for a CNN while it trains (oneDNN's fast layout on CPUs, tensor cores' on GPUs),
    back to the standard layout after: calibration, the test predictions and every later load of the saved
    model then run the same fp32 kernels, so predictions.csv equals what ``load_detector`` gives, exactly."""
    if sum(isinstance(module, torch.nn.Conv2d) for module in model.modules()) >= CHANNELS_LAST_MIN_CONVS:
        model.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


def _stage_history(log_history: list[dict], stage: str, epochs_before: float) -> list[dict]:
    return [
        {**entry, "stage": stage, "epoch": epochs_before + entry["epoch"]}
        if "epoch" in entry
        else {**entry, "stage": stage}
        for entry in log_history
    ]


def _logged_history(checkpoint: str | None) -> list[dict]:
    state = Path(checkpoint or "") / TRAINER_STATE
    return json.loads(state.read_text())["log_history"] if checkpoint and state.is_file() else []
