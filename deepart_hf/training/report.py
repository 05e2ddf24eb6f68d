"""metrics -> report, card, Hub: what a run leaves in its output folder, and the push."""

from __future__ import annotations

import logging
import shlex
import sys
from pathlib import Path

import numpy as np

from ..data.loading import DATASET_COLUMN
from ..evaluation.calibration import describe_calibration
from ..evaluation.intervals import metric_intervals
from ..evaluation.metrics import load_detector_metric
from ..evaluation.perturbations import select_perturbations
from ..evaluation.plots import plot_confusion_matrix, plot_roc_curve, plot_training_curves
from ..evaluation.predictions import write_predictions_csv
from ..evaluation.suite import score_split, validity_report, write_report
from ..evaluation.tables import counts_line, results_markdown
from ..files import write_json
from ..hub import push_folder
from ..inference.detector import Detector
from ..models import describe_model
from ..models.calibration import Calibration
from ..models.preprocessing import describe_preprocessing, preprocess_mode
from ..models.scores import decisions_at, log_odds_from_logits
from .arguments import Arguments
from .model_card import dataset_label, render_model_card
from .prepared_streams import example_ids

logger = logging.getLogger(__name__)

CHECKPOINT_PATTERNS = ["checkpoint-*", "checkpoint-*/**", "unfrozen/**", "runs/**"]


def evaluate_and_report(args: Arguments, trainer, model, processor, splits, history: list[dict]) -> dict:
    """Predict the test split at the saved decision threshold; write metrics, predictions, plots, the validity
    report (intervals, calibration, robustness, per dataset) and, after training, the model card."""
    if args.run.task == "attribution":
        from .attribution_report import evaluate_attribution_and_report

        return evaluate_attribution_and_report(args, trainer, model, processor, splits, history)
    test = splits.test
    output = trainer.predict(test, metric_key_prefix="test")
    log_odds = log_odds_from_logits(np.asarray(output.predictions))
    references = np.asarray(output.label_ids).astype(int)
    calibration = Calibration.from_config(model.config)
    predictions = decisions_at(log_odds, calibration.threshold_log_odds)
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

    # The validity report: the same scores with intervals, then the perturbations through the saved artifact.
    perturbations = select_perturbations(args.run.robustness)
    detector = Detector(
        model, processor, batch_size=args.training.per_device_eval_batch_size, device=str(trainer.args.device)
    )
    if splits.raw_test is None and perturbations:
        logger.warning("a streamed test split is read once: the validity report has no perturbations")
        perturbations = ()
    perturbed = (
        score_split(detector, splits.raw_test, perturbations, description="robustness checks", score_clean=False)[2]
        if perturbations
        else {}
    )
    validity = validity_report(
        detector, references, log_odds, perturbed, perturbations, n_resamples=args.run.n_resamples
    )
    if splits.raw_test is not None and DATASET_COLUMN in splits.raw_test.column_names:
        validity["per_dataset"] = per_dataset_metrics(
            splits.raw_test[DATASET_COLUMN], references, log_odds, calibration.threshold_log_odds, args.run.n_resamples
        )
    written = write_report(validity, references, log_odds, out, title=f"Validity report: {title}")
    validity["files"] = written

    summary = run_summary(args, model, processor, metrics)
    summary["calibration"] = calibration.to_dict()
    summary["per_dataset"] = {
        name: {k: v["value"] for k, v in m.items() if isinstance(v, dict) and "value" in v}
        for name, m in validity.get("per_dataset", {}).items()
    }
    if not args.run.eval_only:
        render_model_card(args, model, processor, metrics, summary, has_curves=bool(history), validity=validity).save(
            out / "README.md"
        )
    write_json(out / "metrics.json", summary)  # last: its presence marks a finished run

    print(f"Test results: {title} ({len(references)} images)\n{results_markdown(metrics)}\n{counts_line(metrics)}")
    if validity.get("warning"):
        print(validity["warning"])
    print(f"Decision: {describe_calibration(calibration)}")
    written = ["metrics.json", "predictions.csv", "confusion_matrix.png", "roc_curve.png", *written]
    written += ["training_curves.png"] if history else []
    written += [] if args.run.eval_only else ["README.md (model card)", "the model and its image processor"]
    print(f"Wrote {', '.join(written)} to {out}")
    return metrics


def per_dataset_metrics(datasets, references, log_odds, threshold_log_odds: float, n_resamples: int) -> dict:
    """Every metric with its interval for each dataset of a mixed test split."""
    datasets = np.asarray(datasets, dtype=object)
    return {
        name: metric_intervals(
            references[datasets == name],
            log_odds[datasets == name],
            threshold_log_odds=threshold_log_odds,
            n_resamples=n_resamples,
        )
        for name in dict.fromkeys(datasets.tolist())
    }


def hyperparameters(args: Arguments) -> dict:
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
