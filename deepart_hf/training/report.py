"""metrics -> report, card, Hub: what a run leaves in its output folder, and the push.

One report for both tasks; the task decides its metrics and sections. A detector's run writes metrics.json,
predictions.csv, the confusion matrix, ROC and training curves, the validity report (intervals, calibrated
decision, robustness, per dataset) and the model card. An attribution run's metrics.json has the per-class
accuracy, macro-F1, K x K confusion matrix and the human-vs-AI metrics derived from P(ai) = 1 - P(real); its
predictions.csv has every class's probability; the binary calibration and robustness suite are skipped.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np
import torch

from ..constants import REAL_GENERATOR
from ..evaluation.calibration import describe_calibration
from ..evaluation.familiarity_report import familiarity_line, reference_folder
from ..evaluation.perturbations import select_perturbations
from ..evaluation.plots import plot_confusion_matrix, plot_roc_curve, plot_training_curves
from ..evaluation.suite import evaluate_detector
from ..evaluation.tables import counts_line, results_markdown
from ..files import write_json
from ..hub import push_folder
from ..inference.detector import Detector
from ..models import describe_model
from ..models.calibration import Calibration
from ..models.familiarity import Familiarity
from ..models.features import recorded_image_features
from ..models.preprocessing import describe_preprocessing, preprocess_mode
from .config import TrainConfig, config_command
from .model_card import dataset_label, render_model_card
from .result import RunResult
from .task import Task

logger = logging.getLogger(__name__)

CHECKPOINT_PATTERNS = ["checkpoint-*", "checkpoint-*/**", "unfrozen/**", "runs/**"]


def evaluate_and_report(config: TrainConfig, task: Task, trainer, model, processor, splits, history: list[dict]):
    """Predict the test split (at the saved decision threshold for a detector); write the files the module
    docstring lists. Returns the run's ``RunResult``."""
    # The features the head reads, recorded in the same pass: the test images' familiarity needs no second one.
    recording = recorded_image_features(model) if task.validity_report else contextlib.nullcontext([])
    with recording as recorded:
        output = trainer.predict(splits.test, metric_key_prefix="test")
    logits = output.predictions[0] if isinstance(output.predictions, tuple) else output.predictions
    # one process's share of a distributed prediction is not the whole split: its images are then read again
    features = torch.cat(recorded).numpy() if recorded and trainer.args.world_size == 1 else None
    features = features if features is not None and len(features) == len(logits) else None
    calibration = Calibration.from_config(model.config)
    scores = task.score(logits, output.label_ids, calibration.threshold_log_odds)
    metrics = scores.metrics
    out = Path(config.training.output_dir)
    if not trainer.is_world_process_zero():
        return RunResult(out, metrics, task)

    out.mkdir(parents=True, exist_ok=True)
    ids = splits.test_ids()
    task.write_predictions(out / "predictions.csv", ids, scores)
    title = f"{Path(config.model.model_name_or_path or config.model.model).name} on {dataset_label(config)}"
    written = ["metrics.json", "predictions.csv", "confusion_matrix.png"]
    plot_confusion_matrix(
        metrics["confusion_matrix"],
        out / "confusion_matrix.png",
        title=f"Attribution: {title}" if task.is_attribution else title,
        **({"labels": list(task.classes)} if task.is_attribution else {}),
    )
    detection = scores.detection_metrics
    if detection is not None:
        roc_title = f"Real vs generated, P(ai) = 1 - P({REAL_GENERATOR}): {title}" if task.is_attribution else title
        plot_roc_curve(scores.is_ai, scores.log_odds_ai, out / "roc_curve.png", title=roc_title)
        written.append("roc_curve.png")
    if history:
        plot_training_curves(history, out / "training_curves.png")
        written.append("training_curves.png")

    validity = (
        validity_report(config, trainer, model, processor, splits, scores, title, ids, features)
        if task.validity_report
        else None
    )
    summary = {**run_summary(config, model, processor, metrics), **task.summary()}
    if validity is not None:
        written += validity["files"]
        summary["calibration"] = calibration.to_dict()
        summary["per_dataset"] = {
            name: {k: v["value"] for k, v in m.items() if isinstance(v, dict) and "value" in v}
            for name, m in validity.get("per_dataset", {}).items()
        }
    attribution = attribution_markdown(metrics, task.label_column) if task.is_attribution else None
    if not config.run.eval_only:
        card_metrics = (detection or {"n": metrics["n"]}) if task.is_attribution else metrics
        render_model_card(
            config,
            model,
            processor,
            card_metrics,
            summary,
            has_curves=bool(history),
            validity=validity,
            attribution=attribution,
        ).save(out / "README.md")
    write_json(out / "metrics.json", summary)  # last: its presence marks a finished run

    if task.is_attribution:
        print(f"Attribution results: {title} ({metrics['n']} images)\n{attribution}")
        if detection is not None:
            print(f"Real vs generated (P(ai) = 1 - P(real)):\n{results_markdown(detection)}\n{counts_line(detection)}")
        print(f"Skipped: {task.skipped}.")
    else:
        print(
            f"Test results: {title} ({len(scores.references)} images)\n{results_markdown(metrics)}\n{counts_line(metrics)}"
        )
        if validity.get("warning"):
            print(validity["warning"])
        print(f"Decision: {describe_calibration(calibration)}")
        print(familiarity_line(validity["familiarity"]))
    shown = [*written]
    shown += [] if config.run.eval_only else ["README.md (model card)", "the model and its image processor"]
    print(f"Wrote {', '.join(shown)} to {out}")
    return RunResult(out, metrics, task, tuple(written), summary)


def validity_report(
    config: TrainConfig,
    trainer,
    model,
    processor,
    splits,
    scores,
    title: str,
    ids: list | None = None,
    features: np.ndarray | None = None,
) -> dict:
    """The validity report of the test scores, with the perturbations scored through the saved artifact.
    ``ids``: the test images' ids in prediction order; ``features``: their features from the pass that scored
    them, on which their familiarity is measured."""
    perturbations = select_perturbations(
        config.run.robustness, None if splits.raw_test is None else len(splits.raw_test)
    )
    out = config.training.output_dir
    # A trained run measures its own test split, the reference of later evaluations; an --eval_only run
    # evaluates another split against the reference saved beside the model it loads.
    own = not config.run.eval_only
    source = out if own else config.model.model_name_or_path
    model_folder = out if own else reference_folder(source) if source else None
    detector = Detector(
        model,
        processor,
        batch_size=config.training.per_device_eval_batch_size,
        device=str(trainer.args.device),
        familiarity=Familiarity.load(source) if source else None,
    )
    if splits.raw_test is None and perturbations:
        logger.warning("a streamed test split is read once: the validity report has no perturbations")
        perturbations = ()
    return evaluate_detector(
        detector,
        splits.raw_test,
        out,
        perturbations=perturbations,
        n_resamples=config.run.n_resamples,
        title=f"Validity report: {title}",
        clean=(ids, scores.references, scores.log_odds_ai),
        clean_features=features,
        model_folder=model_folder,
        own_test_split=own,
    ).report


def hyperparameters(args: TrainConfig) -> dict:
    t = args.training
    values = {
        "epochs": t.num_train_epochs,
        "batch size per device": t.per_device_train_batch_size,
        "gradient accumulation steps": t.gradient_accumulation_steps,
        "learning rate": t.learning_rate,
        "optimizer": f"{t.optim}" + (f" ({t.optim_args})" if t.optim_args else ""),
        "weight decay": t.weight_decay,
        "lr schedule": f"StepLR every {args.run.step_lr_epochs} epochs, gamma {args.run.step_lr_gamma}"
        if args.run.step_lr_epochs
        else str(t.lr_scheduler_type),
        "warmup steps": t.warmup_steps,
        # training steps only; calibration, test predictions and the saved model run in fp32
        "mixed precision": f"{'bf16' if t.bf16 else 'fp16'} autocast in training steps, fp32 predictions"
        if t.bf16 or t.fp16
        else "no (fp32)",
        "seed": t.seed,
        "frozen backbone": args.model.freeze_backbone,
        "unfrozen epochs after that": args.model.unfreeze_epochs,
        "loss": "cross-entropy",
    }
    return {k: (v.value if hasattr(v, "value") else v) for k, v in values.items()}


def training_preprocessing(args: TrainConfig, processor) -> str:
    """What the model saw: the saved processor's preprocessing, and what training added around it."""
    text = describe_preprocessing(processor)
    if args.run.eval_only:
        return text
    crop = preprocess_mode(processor) == "crop"
    text += "; in training: " + ("a random crop and a random horizontal flip" if crop else "a random horizontal flip")
    data = args.data
    if data.blur_jpeg_prob:
        text += f", blur (sigma {data.blur_sigma}) and JPEG (quality {data.jpeg_quality}) each with probability {data.blur_jpeg_prob} (CNNDetection)"
    return text


def run_summary(args: TrainConfig, model, processor, metrics: dict) -> dict:
    return {
        "test": metrics,
        "dataset": args.data.dataset,
        "dataset_config": args.data.dataset_config,
        "test_split": args.data.test_split,
        "model": describe_model(model, processor),
        "parameters": {"trainable": model.num_parameters(only_trainable=True), "total": model.num_parameters()},
        "protocol": args.protocol_name,
        "preprocessing": training_preprocessing(args, processor),
        "saved_preprocessing": describe_preprocessing(processor),
        "hyperparameters": None if args.run.eval_only else hyperparameters(args),
        "command": config_command(args),
    }


def push_run(args: TrainConfig, output_dir: str) -> str:
    """Upload model, processor, card, metrics and plots; one-line PublishError when the Hub is unreachable."""
    repo_id = args.training.hub_model_id or Path(output_dir).name
    url = push_folder(
        output_dir,
        repo_id,
        private=bool(getattr(args.training, "hub_private_repo", False)),
        token=args.training.hub_token,
        commit_message="Upload detector trained with deepart-hf",
        ignore_patterns=CHECKPOINT_PATTERNS,
    )
    print(f"Pushed to {url}")
    return url


def attribution_markdown(metrics: dict, column: str) -> str:
    """The classes, accuracy and macro-F1, then each class's accuracy (recall), as markdown."""
    per_class = metrics["per_class_accuracy"]
    totals = np.asarray(metrics["confusion_matrix"]).sum(axis=1)
    lines = [
        f"A **generator-attribution** model: it names which of {len(metrics['classes'])} classes (column `{column}`) made an "
        f"image: {', '.join(f'`{name}`' for name in metrics['classes'])}. P(ai) = 1 - P({REAL_GENERATOR}) makes it a human-vs-AI "
        "detector too."
        if REAL_GENERATOR in metrics["classes"]
        else f"A **{len(metrics['classes'])}-class attribution** model (column `{column}`): {', '.join(f'`{n}`' for n in metrics['classes'])}.",
        "",
        f"Accuracy **{100 * metrics['accuracy']:.2f}%**, macro-F1 **{100 * metrics['macro_f1']:.2f}%** on {metrics['n']} test images.",
        "",
        "| class | test images | accuracy % |",
        "| --- | --- | --- |",
        *(
            f"| {name} | {int(total)} | {'n/a' if per_class[name] is None else f'{100 * per_class[name]:.2f}'} |"
            for name, total in zip(metrics["classes"], totals)
        ),
    ]
    return "\n".join(lines)
