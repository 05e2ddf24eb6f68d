"""metrics -> report, card, Hub: what a run leaves in its output folder, and the push."""

from __future__ import annotations

import logging
import shlex
import sys
from pathlib import Path

import numpy as np
from huggingface_hub import EvalResult, HfApi, ModelCard, ModelCardData

from .arguments import Arguments
from .cards import markdown_table, template_path
from .errors import PublishError
from .metrics import (
    format_results_table,
    load_detector_metric,
    plot_confusion_matrix,
    plot_roc_curve,
    plot_training_curves,
    predictions_from_logits,
    probabilities_from_logits,
    write_json,
    write_predictions_csv,
)
from .models import FROM_SCRATCH, count_parameters, describe_model
from .protocols import get_protocol

logger = logging.getLogger(__name__)

# Metrics shown in the Hub's model-index, in this order: (key, display name)
MODEL_INDEX_METRICS = [
    ("accuracy", "Accuracy"),
    ("mean_accuracy", "Mean of human and AI accuracy"),
    ("human_accuracy", "Accuracy on human images"),
    ("ai_accuracy", "Accuracy on AI images"),
    ("auroc", "AUROC"),
    ("average_precision", "Average precision"),
]
# timm knows these only after `import deepart_hf.models` registers them.
ARCHITECTURES_REGISTERED_BY_DEEPART_HF = {"googlenet"}
CHECKPOINT_PATTERNS = ["checkpoint-*", "checkpoint-*/**", "unfrozen/**", "runs/**"]


def evaluate_and_report(args: Arguments, trainer, model, test, history: list[dict]) -> dict:
    """Predict the test split; write metrics, predictions, plots and (after training) the model card."""
    raw = test.with_format(None)
    ids = raw["image_id"] if "image_id" in raw.column_names else [str(i) for i in range(len(raw))]
    output = trainer.predict(test, metric_key_prefix="test")
    logits = np.asarray(output.predictions)
    scores = probabilities_from_logits(logits)
    references = np.asarray(output.label_ids).astype(int)
    predictions = predictions_from_logits(logits)
    metrics = load_detector_metric().compute(predictions=predictions, references=references, scores=scores)
    if not trainer.is_world_process_zero():
        return metrics

    out = Path(args.training.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_predictions_csv(out / "predictions.csv", ids, references, predictions, scores)
    title = f"{Path(args.model.model_name_or_path or args.model.model).name} on {dataset_label(args)}"
    plot_confusion_matrix(metrics["confusion_matrix"], out / "confusion_matrix.png", title=title)
    plot_roc_curve(references, scores, out / "roc_curve.png", title=title)
    if history:
        plot_training_curves(history, out / "training_curves.png")
    summary = run_summary(args, model, trainer.processing_class, metrics)
    if not args.run.eval_only:
        render_model_card(args, model, metrics, summary, has_curves=bool(history)).save(out / "README.md")
    write_json(out / "metrics.json", summary)  # last: its presence marks a finished run

    print(format_results_table(metrics, title=f"Test results: {title} ({len(references)} images)"))
    written = ["metrics.json", "predictions.csv", "confusion_matrix.png", "roc_curve.png"]
    written += ["training_curves.png"] if history else []
    written += [] if args.run.eval_only else ["README.md (model card)", "the model and its image processor"]
    print(f"Wrote {', '.join(written)} to {out}")
    return metrics


def dataset_label(args: Arguments) -> str:
    data = args.data
    name = Path(data.dataset).name if Path(data.dataset).is_dir() else data.dataset
    return name + (f" ({data.dataset_config})" if data.dataset_config else "")


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


def preprocessing(args: Arguments) -> str:
    data = args.data
    if data.preprocess == "resize":
        text = "whole image resized to the input size (random horizontal flips in training)"
    else:
        crops = f"{data.eval_crops} crops averaged" if data.eval_crops > 1 else "a centre crop"
        text = f"native-resolution crops: random crop + flip in training, {crops} in evaluation"
    if data.blur_jpeg_prob:
        text += f"; blur (sigma {data.blur_sigma}) and JPEG (quality {data.jpeg_quality}) each with probability {data.blur_jpeg_prob} (CNNDetection)"
    return text


def run_summary(args: Arguments, model, processor, metrics: dict) -> dict:
    trainable, total = count_parameters(model)
    return {
        "test": metrics,
        "dataset": args.data.dataset,
        "dataset_config": args.data.dataset_config,
        "test_split": args.data.test_split,
        "model": describe_model(model, processor),
        "parameters": {"trainable": trainable, "total": total},
        "protocol": args.protocol_name,
        "preprocessing": preprocessing(args),
        "hyperparameters": None if args.run.eval_only else hyperparameters(args),
        "command": command_line(),
    }


def command_line() -> str:
    return " ".join(["python", *map(shlex.quote, sys.argv)])


def render_model_card(args: Arguments, model, metrics: dict, summary: dict, *, has_curves: bool) -> ModelCard:
    described = summary["model"]
    repo_id = args.training.hub_model_id or Path(args.training.output_dir).name
    dataset = args.data.dataset
    dataset_is_hub = not Path(dataset).exists()
    protocol = get_protocol(args.protocol_name) if args.protocol_name else None
    card_data = ModelCardData(
        model_name=repo_id.split("/")[-1],
        base_model=described["base_model"] if described["base_model"] != FROM_SCRATCH else None,
        datasets=[dataset] if dataset_is_hub else None,
        library_name="transformers",
        pipeline_tag="image-classification",
        tags=["image-classification", "ai-generated-image-detection", "deepart-hf", described.get("architecture", "")],
        eval_results=[
            EvalResult(
                task_type="image-classification",
                dataset_type=dataset if dataset_is_hub else Path(dataset).name,
                dataset_name=dataset_label(args),
                dataset_config=args.data.dataset_config,
                dataset_split=args.data.test_split,
                metric_type=key,
                metric_name=name,
                metric_value=round(float(metrics[key]), 4),
            )
            for key, name in MODEL_INDEX_METRICS
            if metrics.get(key) is not None
        ],
    )
    trainable, total = summary["parameters"]["trainable"], summary["parameters"]["total"]
    return ModelCard.from_template(
        card_data,
        template_path=str(template_path("model.md")),
        model_name=repo_id.split("/")[-1],
        repo_id=repo_id,
        needs_import=described["architecture"] in ARCHITECTURES_REGISTERED_BY_DEEPART_HF,
        architecture=described.get("architecture"),
        family=described.get("family"),
        initial_weights="random (trained from scratch)" if described["base_model"] == FROM_SCRATCH else described["base_model"],
        parameters=f"{total:,}",
        trainable=f"{trainable:,}",
        image_size=described.get("image_size"),
        mean=described["mean"],
        std=described["std"],
        dataset_description=f"`{dataset_label(args)}`",
        train_split=args.data.train_split,
        eval_split=args.data.eval_split or "none",
        test_split=args.data.test_split,
        protocol_description=f"`{protocol.name}`: {protocol.reference}" if protocol else "none (flags as given)",
        protocol_choices=protocol.choices if protocol else {},
        preprocessing=summary["preprocessing"],
        hyperparameters=summary["hyperparameters"],
        command=summary["command"],
        n_test=metrics.get("n"),
        results_table=results_markdown(metrics),
        has_curves=has_curves,
        caveats=dataset_caveats(args),
    )


def results_markdown(metrics: dict) -> str:
    def pct(key):
        value = metrics.get(key)
        return "n/a" if value is None else f"{100 * value:.2f}"

    header = ["human acc. %", "AI acc. %", "mean %", "accuracy %", "AUROC %", "AP %", "TPR@1%FPR %", "TPR@5%FPR %"]
    keys = ["human_accuracy", "ai_accuracy", "mean_accuracy", "accuracy", "auroc", "average_precision", "tpr_at_1_fpr", "tpr_at_5_fpr"]
    return markdown_table(header, [[pct(k) for k in keys]])


def dataset_caveats(args: Arguments) -> list[str]:
    name = dataset_label(args).lower()
    caveats = []
    if "synthetic" in name:
        caveats.append("Trained and tested on deepart-hf's synthetic set: a smoke test, not a detector of real AI images.")
    if "deepart" in name:
        caveats.append(
            "On DeepArt the human paintings are PNG and the AI images JPEG: high accuracy can come from compression traces "
            "alone. Test on re-compressed images (e.g. --blur_jpeg_prob in training, JPEG-compressed test sets) before trusting it."
        )
    return caveats


def push_run(args: Arguments, output_dir: str) -> str:
    """Upload model, processor, card, metrics and plots; one-line PublishError when the Hub is unreachable."""
    repo_id = args.training.hub_model_id or Path(output_dir).name
    api = HfApi(token=args.training.hub_token)
    try:
        api.create_repo(repo_id, private=bool(getattr(args.training, "hub_private_repo", False)), exist_ok=True)
        commit = api.upload_folder(folder_path=output_dir, repo_id=repo_id, ignore_patterns=CHECKPOINT_PATTERNS, commit_message="Upload detector trained with deepart-hf")
    except Exception as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PublishError(f"push to {repo_id} failed ({type(exc).__name__}: {detail}); everything is saved in {output_dir}") from None
    url = getattr(commit, "repo_url", None) or f"https://huggingface.co/{repo_id}"
    print(f"Pushed to {url}")
    return str(url)
