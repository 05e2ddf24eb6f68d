"""metrics -> report, card, Hub: what a run leaves in its output folder, and the push."""

from __future__ import annotations

import logging
import shlex
import sys
from pathlib import Path

import numpy as np

from ..files import write_json
from ..hub import push_folder
from ..models import describe_model
from ..models.preprocessing import describe_preprocessing, preprocess_mode
from ..training.arguments import Arguments
from ..training.streaming import example_ids
from .metrics import load_detector_metric, log_odds_from_logits, predictions_from_logits
from .model_card import dataset_label, render_model_card
from .plots import plot_confusion_matrix, plot_roc_curve, plot_training_curves
from .predictions import write_predictions_csv
from .tables import counts_line, results_markdown

logger = logging.getLogger(__name__)

CHECKPOINT_PATTERNS = ["checkpoint-*", "checkpoint-*/**", "unfrozen/**", "runs/**"]


def evaluate_and_report(args: Arguments, trainer, model, processor, test, history: list[dict]) -> dict:
    """Predict the test split; write metrics, predictions, plots and (after training) the model card."""
    output = trainer.predict(test, metric_key_prefix="test")
    logits = np.asarray(output.predictions)
    log_odds = log_odds_from_logits(logits)
    references = np.asarray(output.label_ids).astype(int)
    predictions = predictions_from_logits(logits)
    metrics = load_detector_metric().compute(predictions=predictions, references=references, scores=log_odds)
    if not trainer.is_world_process_zero():
        return metrics

    out = Path(args.training.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_predictions_csv(out / "predictions.csv", example_ids(test), references, predictions, log_odds)
    title = f"{Path(args.model.model_name_or_path or args.model.model).name} on {dataset_label(args)}"
    plot_confusion_matrix(metrics["confusion_matrix"], out / "confusion_matrix.png", title=title)
    plot_roc_curve(references, log_odds, out / "roc_curve.png", title=title)
    if history:
        plot_training_curves(history, out / "training_curves.png")
    summary = run_summary(args, model, processor, metrics)
    if not args.run.eval_only:
        render_model_card(args, model, processor, metrics, summary, has_curves=bool(history)).save(out / "README.md")
    write_json(out / "metrics.json", summary)  # last: its presence marks a finished run

    print(f"Test results: {title} ({len(references)} images)\n{results_markdown(metrics)}\n{counts_line(metrics)}")
    written = ["metrics.json", "predictions.csv", "confusion_matrix.png", "roc_curve.png"]
    written += ["training_curves.png"] if history else []
    written += [] if args.run.eval_only else ["README.md (model card)", "the model and its image processor"]
    print(f"Wrote {', '.join(written)} to {out}")
    return metrics


def hyperparameters(args: Arguments) -> dict:
    t = args.training
    values = {
        "epochs": t.num_train_epochs,
        "batch size per device": t.per_device_train_batch_size,
        "gradient accumulation steps": t.gradient_accumulation_steps,
        "learning rate": t.learning_rate,
        "optimizer": f"{t.optim}" + (f" ({t.optim_args})" if t.optim_args else ""),
        "weight decay": t.weight_decay,
        "lr schedule": f"StepLR every {args.run.step_lr_epochs} epochs, gamma {args.run.step_lr_gamma}" if args.run.step_lr_epochs else str(t.lr_scheduler_type),
        "warmup steps": t.warmup_steps,
        "mixed precision": "bf16" if t.bf16 else "fp16" if t.fp16 else "no",
        "seed": t.seed,
        "frozen backbone": args.model.freeze_backbone,
        "unfrozen epochs after that": args.model.unfreeze_epochs,
        "loss": "cross-entropy",
    }
    return {k: (v.value if hasattr(v, "value") else v) for k, v in values.items()}


def training_preprocessing(args: Arguments, processor) -> str:
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


def run_summary(args: Arguments, model, processor, metrics: dict) -> dict:
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
        "command": command_line(),
    }


def command_line() -> str:
    return " ".join(["python", *map(shlex.quote, sys.argv)])


def push_run(args: Arguments, output_dir: str) -> str:
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
