"""transforms -> model -> Trainer -> metrics: the training path, readable top to bottom in ``run``.

Everything distributed (DDP over several GPUs or nodes, gloo on CPUs, mixed precision) is the
Trainer's, through accelerate: this module adds only what image-forensics training needs and the
Trainer lacks: several crops averaged per test image, StepLR, a frozen-then-unfrozen schedule, and a
check that a resumed checkpoint belongs to the model being trained.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import replace
from pathlib import Path

from transformers import TrainingArguments
from transformers.trainer_utils import get_last_checkpoint

from ..data.loading import checked_split, ensure_synthetic, load_splits
from ..errors import DeepArtError
from ..evaluation.metrics import make_compute_metrics
from ..models import create_model, freeze_backbone, load_trained, unfreeze_all
from ..models.preprocessing import build_transform, collate, pre_resize, processor_geometry
from .arguments import Arguments, parse_range
from .trainer import DetectorTrainer

logger = logging.getLogger(__name__)

FINISHED_MARKER = "metrics.json"  # written last: a folder holding it is a finished run


def _model_signature(config: dict) -> tuple:
    # model_type tells ViT from timm; for timm models `architecture` tells resnet18 from vgg16.
    return config.get("model_type"), config.get("architecture")


def check_checkpoint_matches(checkpoint: str, model) -> None:
    """Resuming resnet50 weights into a ViT fails deep inside torch; say what is wrong instead."""
    config_file = Path(checkpoint) / "config.json"
    if not config_file.is_file():
        raise DeepArtError(f"{checkpoint} is not a checkpoint folder (no config.json)")
    saved = json.loads(config_file.read_text())
    current = model.config.to_dict()
    if _model_signature(saved) != _model_signature(current):
        raise DeepArtError(
            f"checkpoint {checkpoint} was saved from {_describe_signature(saved)}, but this run builds "
            f"{_describe_signature(current)}; use another --output_dir or the matching --model"
        )


def _describe_signature(config: dict) -> str:
    model_type, architecture = _model_signature(config)
    return f"{model_type} ({architecture})" if architecture else str(model_type)


def resolve_checkpoint(args: Arguments) -> str | None:
    """An explicit --resume_from_checkpoint, else the last checkpoint of an interrupted run."""
    training, run = args.training, args.run
    output_dir = Path(training.output_dir)
    requested = training.resume_from_checkpoint
    if requested and requested.lower() not in ("true", "last"):
        if not Path(requested).is_dir():
            raise DeepArtError(f"--resume_from_checkpoint {requested}: no such folder")
        return requested
    if (output_dir / FINISHED_MARKER).exists() and not run.overwrite_output_dir:
        raise DeepArtError(f"{output_dir} holds a finished run; pass --overwrite_output_dir to replace it, or another --output_dir")
    last = get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
    if requested and last is None:
        raise DeepArtError(f"--resume_from_checkpoint {requested}: no checkpoint in {output_dir}")
    if run.overwrite_output_dir:
        return None
    return last


def prepare_data(args: Arguments, processor):
    data = args.data
    with args.training.main_process_first(desc="preparing the dataset"):
        if data.dataset is None:
            data.dataset = str(ensure_synthetic(data.synthetic_n_per_class, data.synthetic_image_size, args.training.seed))
        splits = load_splits(data.dataset, data.dataset_config)
    where = f"dataset {data.dataset}" + (f" ({data.dataset_config})" if data.dataset_config else "")
    train = None if args.run.eval_only else checked_split(splits, data.train_split, where, data.max_train_samples)
    evaluation = checked_split(splits, data.eval_split, where, data.max_eval_samples) if data.eval_split and not args.run.eval_only else None
    test = checked_split(splits, data.test_split, where, data.max_eval_samples)
    if data.preprocess == "resize" and not data.blur_jpeg_prob:
        # Decode and resize each image once instead of once per epoch (identical pixels, several
        # times faster); the random blur/JPEG augmentation must see full-size images, crops native ones.
        size = data.image_size or processor_geometry(processor)[0]
        with args.training.main_process_first(desc="resizing images once"):
            train, evaluation, test = (pre_resize(split, size) if split is not None else None for split in (train, evaluation, test))
    options = dict(mode=data.preprocess, image_size=data.image_size)
    if train is not None:
        train.set_transform(
            build_transform(
                processor,
                train=True,
                blur_jpeg_prob=data.blur_jpeg_prob,
                blur_sigma=parse_range(data.blur_sigma, "blur_sigma"),
                jpeg_quality=parse_range(data.jpeg_quality, "jpeg_quality", int),
                **options,
            )
        )
    eval_transform = build_transform(processor, train=False, eval_crops=data.eval_crops, **options)
    for split in (evaluation, test):
        if split is not None:
            split.set_transform(eval_transform)
    return train, evaluation, test


def make_trainer(args: Arguments, training: TrainingArguments, model, processor, train, evaluation) -> DetectorTrainer:
    return DetectorTrainer(
        model=model,
        args=training,
        train_dataset=train,
        eval_dataset=evaluation,
        data_collator=collate,
        processing_class=processor,
        compute_metrics=make_compute_metrics(),
        step_lr_epochs=args.run.step_lr_epochs,
        step_lr_gamma=args.run.step_lr_gamma,
    )


def train_model(args: Arguments, model, processor, train, evaluation) -> tuple[DetectorTrainer, list[dict]]:
    """Train (frozen backbone first if asked, then unfrozen); returns the last trainer and the whole log."""
    training = args.training
    if evaluation is None:
        training = replace(training, eval_strategy="no")
    checkpoint = resolve_checkpoint(args)
    stages = [("frozen" if args.model.freeze_backbone else "all layers", training)]
    if args.model.unfreeze_epochs > 0:
        if not args.model.freeze_backbone:
            raise DeepArtError("--unfreeze_epochs continues a --freeze_backbone run; add --freeze_backbone")
        # The second stage is a fresh Trainer: DDP must see the newly trainable parameters from the start.
        stages.append(("unfrozen", replace(training, num_train_epochs=args.model.unfreeze_epochs, output_dir=os.path.join(training.output_dir, "unfrozen"))))
        unfrozen_last = get_last_checkpoint(stages[1][1].output_dir) if Path(stages[1][1].output_dir).is_dir() else None
    else:
        unfrozen_last = None

    history: list[dict] = []
    trainer = None
    for index, (stage, stage_args) in enumerate(stages):
        if stage == "frozen":
            freeze_backbone(model)
        elif stage == "unfrozen":
            unfreeze_all(model)
        resume = checkpoint if index == 0 else unfrozen_last
        if index == 0 and unfrozen_last is not None:
            continue  # the frozen stage finished before the interruption; its weights are in the unfrozen checkpoint
        if resume:
            check_checkpoint_matches(resume, model)
            logger.warning("resuming from %s", resume)
        trainer = make_trainer(args, stage_args, model, processor, train, evaluation)
        trainer.train(resume_from_checkpoint=resume)
        history += [{**entry, "stage": stage} for entry in trainer.state.log_history]
    trainer.save_model(training.output_dir)  # model + processor, at the top of the run folder
    return trainer, history


def run(args: Arguments) -> dict:
    """The whole job: data, model, training, test evaluation, report, card, push. Returns the metrics."""
    from ..evaluation.report import evaluate_and_report, push_run

    if args.run.eval_only and not args.model.model_name_or_path:
        raise DeepArtError("--eval_only needs --model_name_or_path (a trained detector's folder or Hub id)")
    if args.model.model_name_or_path:
        model, processor = load_trained(args.model.model_name_or_path)
    else:
        model, processor = create_model(args.model.model, from_scratch=args.model.from_scratch, image_size=args.data.image_size)

    train, evaluation, test = prepare_data(args, processor)
    # Our own push happens once, at the end, after everything is saved: the Trainer's would push every checkpoint.
    push = args.training.push_to_hub
    training = replace(args.training, push_to_hub=False)
    args.training = training

    history: list[dict] = []
    if args.run.eval_only:
        trainer = make_trainer(args, replace(training, eval_strategy="no"), model, processor, None, None)
    else:
        trainer, history = train_model(args, model, processor, train, evaluation)

    metrics = evaluate_and_report(args, trainer, model, test, history)
    if push and trainer.is_world_process_zero():
        push_run(args, training.output_dir)
    return metrics
