"""The model card of a trained detector: what it is, how it was trained, what it scored, what to beware of."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from ..cards import markdown_table, template_path
from ..models import FROM_SCRATCH
from ..training.arguments import Arguments
from ..training.protocols import get_protocol

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

def dataset_label(args: Arguments) -> str:
    data = args.data
    name = Path(data.dataset).name if Path(data.dataset).is_dir() else data.dataset
    return name + (f" ({data.dataset_config})" if data.dataset_config else "")


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
