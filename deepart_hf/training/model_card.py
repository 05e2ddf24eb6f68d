"""The model card of a trained detector: what it is, how it was trained, what it scored, what to beware of."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from ..cards import markdown_table, template_path
from ..data.loading import dataset_caveats as read_dataset_caveats
from ..errors import DeepArtError
from ..evaluation.suite import SUMMARY_METRICS, interval_cell, report_markdown
from ..evaluation.tables import results_markdown
from ..models import FROM_SCRATCH, classifier_head, is_hub_id, model_labels
from ..models.familiarity import FAMILIARITY_FILE, MAX_STORED, Familiarity
from ..models.preprocessing import preprocess_mode
from .config import TrainConfig
from .protocols import get_protocol

# Metrics shown in the Hub's model-index, in this order: (key, display name)
MODEL_INDEX_METRICS = [
    ("accuracy", "Accuracy"),
    ("mean_accuracy", "Mean of human and AI accuracy"),
    ("human_accuracy", "Accuracy on human images"),
    ("ai_accuracy", "Accuracy on AI images"),
    ("auroc", "AUROC"),
    ("average_precision", "Average precision"),
]
ATTRIBUTION_INDEX_METRICS = [("accuracy", "Attribution accuracy"), ("macro_f1", "Attribution macro-F1")]
# timm knows these only after `import deepart_hf.models` registers them.
ARCHITECTURES_REGISTERED_BY_DEEPART_HF = {"googlenet"}


def dataset_label(args: TrainConfig) -> str:
    labels = []
    for dataset, config in args.datasets:
        name = Path(dataset).name if Path(dataset).is_dir() else dataset
        labels.append(name + (f" ({config})" if config else ""))
    return " + ".join(labels)


def render_model_card(
    args: TrainConfig,
    model,
    processor,
    metrics: dict,
    summary: dict,
    *,
    has_curves: bool,
    validity: dict | None = None,
    attribution: str | None = None,
) -> ModelCard:
    """``attribution``: an attribution model's classes and results (markdown), which open the card; ``metrics``
    are then its human-vs-AI metrics (P(ai) = 1 - P(real))."""
    described = summary["model"]
    repo_id = args.training.hub_model_id or Path(args.training.output_dir).name
    dataset = args.datasets[0][0]
    dataset_is_hub = not Path(dataset).exists()
    protocol = get_protocol(args.protocol_name) if args.protocol_name else None
    # an attribution model is indexed by what it was trained for: naming the generator (summary["test"])
    indexed, index_metrics = (
        (summary["test"], ATTRIBUTION_INDEX_METRICS) if attribution else (metrics, MODEL_INDEX_METRICS)
    )
    card_data = ModelCardData(
        model_name=repo_id.split("/")[-1],
        # the Hub's metadata only takes a Hub id; weights from a URL or a local file are named in the card's text
        base_model=described["base_model"] if is_hub_id(described["base_model"]) else None,
        datasets=[dataset] if dataset_is_hub else None,
        library_name="transformers",
        pipeline_tag="image-classification",
        tags=[
            "image-classification",
            "ai-generated-image-detection",
            "deepart-hf",
            *(["generator-attribution"] if attribution else []),
            described.get("architecture", ""),
        ],
        eval_results=[
            EvalResult(
                task_type="image-classification",
                dataset_type=dataset if dataset_is_hub else Path(dataset).name,
                dataset_name=dataset_label(args),
                dataset_config=args.data.dataset_config,
                dataset_split=args.data.test_split,
                metric_type=key,
                metric_name=name,
                metric_value=round(float(indexed[key]), 4),
            )
            for key, name in index_metrics
            if indexed.get(key) is not None
        ],
    )
    trainable, total = summary["parameters"]["trainable"], summary["parameters"]["total"]
    cross_source = read_cross_source_report(args)
    return ModelCard.from_template(
        card_data,
        template_path=str(template_path("model.md")),
        model_name=repo_id.split("/")[-1],
        repo_id=repo_id,
        usage=usage_code(
            repo_id, processor, described.get("architecture"), classes=summary.get("classes") if attribution else None
        ),
        architecture=described.get("architecture"),
        family=described.get("family"),
        initial_weights="random (trained from scratch)"
        if described["base_model"] == FROM_SCRATCH
        else described["base_model"],
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
        preprocessing_saved=summary["saved_preprocessing"],
        hyperparameters=summary["hyperparameters"],
        command=summary["command"],
        n_test=metrics.get("n"),
        results_table=results_markdown(metrics),
        has_curves=has_curves,
        caveats=dataset_caveats(args),
        validity=report_markdown(validity, "Validity report").split("\n", 2)[2] if validity else None,
        per_dataset=per_dataset_markdown(validity.get("per_dataset"))
        if validity and validity.get("per_dataset")
        else None,
        robustness_plots=[name for name in (validity or {}).get("files", []) if name.endswith(".png")],
        attribution=attribution,
        leave_one_out=leave_one_out_markdown(cross_source) if cross_source else None,
        leave_one_out_command=cross_source.get("train_command") if cross_source else None,
        familiarity=familiarity_markdown(Familiarity.load(args.training.output_dir), model, repo_id),
    )


def familiarity_markdown(familiarity: Familiarity | None, model, repo_id: str) -> str | None:
    """What the stored familiarity is, what its flag means, and how to compute it without deepart-hf."""
    if familiarity is None:
        return None
    head = next(name for name, module in model.named_modules() if module is classifier_head(model))
    names = model_labels(model.config)
    counts = ", ".join(
        f"{n} {names[label] if label < len(names) else label}"
        for label, n in zip(*np.unique(familiarity.labels, return_counts=True))
    )
    return "\n".join(
        [
            f"`{FAMILIARITY_FILE}` holds the features this model's classification head reads (L2-normalised; for a "
            f"crop model, the mean over the crops it evaluates) of {familiarity.size} training and validation images "
            f"({counts}: a sample stratified by label, at most {MAX_STORED:,}), taken through the saved image "
            "processor as at test time. An image's **distance** is the cosine distance (1 − cos) of its features to "
            f"its k-th nearest stored image (k = {familiarity.k}); its **percentile** is the share of "
            "stored images whose own distance to their k-th nearest other stored image (leave-one-out) is at most it. "
            f"Beyond **{familiarity.threshold:.4f}**, the {familiarity.percentile:g}th percentile of those, an image "
            "is **unfamiliar**: unlike anything this detector learnt from, so its score there says little (about "
            f"{100 - familiarity.percentile:g}% of images like the training ones are flagged too). This is the deep "
            "nearest-neighbour out-of-distribution test (Sun et al., ICML 2022).",
            "",
            "`deepart_hf.load_detector(...).predict(...)` and `deepart-hf predict` give each image's `distance`, "
            "`distance_percentile` and `familiar`; where many images of a collection are unfamiliar, re-fit the "
            "threshold with `deepart-hf calibrate` and that collection's own human images. A transformers "
            "`pipeline()` gives the scores only; the same distance with transformers alone:",
            "",
            "```python",
            "import torch",
            "from huggingface_hub import hf_hub_download",
            "from PIL import Image",
            "from safetensors import safe_open",
            "from transformers import AutoImageProcessor, AutoModelForImageClassification",
            "",
            f'model = AutoModelForImageClassification.from_pretrained("{repo_id}").eval()',
            f'processor = AutoImageProcessor.from_pretrained("{repo_id}")',
            f'with safe_open(hf_hub_download("{repo_id}", "{FAMILIARITY_FILE}"), framework="pt") as stored:',
            '    training, k = stored.get_tensor("features"), int(stored.metadata()["k"])',
            '    threshold = float(stored.metadata()["threshold"])',
            "captured = []  # what the classification head reads: one row per image (per crop for a crop model)",
            f'model.get_submodule("{head}").register_forward_pre_hook(lambda module, args: captured.append(args[0]))',
            'images = [Image.open("painting.png").convert("RGB")]',
            "with torch.no_grad():",
            '    model(**processor(images=images, return_tensors="pt"))',
            "features = captured[0].flatten(1).reshape(len(images), -1, training.shape[1]).mean(dim=1)",
            "features = torch.nn.functional.normalize(features, dim=1)",
            "distance = 1 - (features @ training.T).topk(k, dim=1).values[:, -1]",
            "print(distance, distance <= threshold)  # True: familiar",
            "```",
        ]
    )


LEAVE_ONE_OUT_KEY = "leave_one_out"  # in cross_source.json: held-out source -> the sources trained on, its metrics


def read_cross_source_report(args: TrainConfig) -> dict | None:
    """``--cross_source_report``'s leave-one-source-out figures, checked against the run's datasets (None when not
    given). Read before training, so that a wrong file stops the run before it costs anything."""
    path = args.run.cross_source_report
    if not path:
        return None
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DeepArtError(f"--cross_source_report {path}: cannot read it ({exc})") from None
    if not report.get(LEAVE_ONE_OUT_KEY):
        raise DeepArtError(
            f"--cross_source_report {path} has no leave-one-source-out figures: write it with "
            "`deepart-hf cross-eval --leave_one_out` on three or more sources"
        )
    ours, theirs = set(args.dataset_location.split(",")), set(report.get("locations", {}).values())
    if ours != theirs:
        raise DeepArtError(
            f"--cross_source_report {path} was measured on {', '.join(sorted(theirs))}, not on this run's datasets "
            f"({', '.join(sorted(ours))})"
        )
    return report


def leave_one_out_markdown(report: dict) -> str:
    """One row per source: trained on all the others, tested on it, each metric with its 95% interval."""
    headers = ["left out (tested on)", "trained on", "n (human/ai)", *(name for _, name in SUMMARY_METRICS)]
    rows = [
        [
            held_out,
            " + ".join(entry["trained_on"]),
            f"{entry['metrics']['n']} ({entry['metrics']['n_human']}/{entry['metrics']['n_ai']})",
            *(interval_cell(entry["metrics"][key]) for key, _ in SUMMARY_METRICS),
        ]
        for held_out, entry in report[LEAVE_ONE_OUT_KEY].items()
    ]
    return markdown_table(headers, rows)


def per_dataset_markdown(per_dataset: dict) -> str:
    """One row per dataset of a mixed test split, each metric with its 95% interval."""
    headers = ["dataset", "n (human/ai)", *(name for _, name in SUMMARY_METRICS)]
    rows = [
        [name, f"{m['n']} ({m['n_human']}/{m['n_ai']})", *(interval_cell(m[key]) for key, _ in SUMMARY_METRICS)]
        for name, m in per_dataset.items()
    ]
    return markdown_table(headers, rows)


def dataset_caveats(args: TrainConfig) -> list[str]:
    """The caveats the dataset's build measured and wrote into its card, whatever the dataset is called."""
    caveats = []
    for dataset, _ in args.datasets:
        found = read_dataset_caveats(dataset)
        if found is None:
            found = [
                f"The card of `{dataset}` could not be read, so its caveats are unknown: check them before trusting these figures."
            ]
        caveats += [f"{Path(dataset).name}: {caveat}" if len(args.datasets) > 1 else caveat for caveat in found]
    return caveats


def usage_code(repo_id: str, processor, architecture: str | None, classes: list[str] | None = None) -> str:
    """How to run the saved detector, for this kind of model (``classes``: an attribution model's)."""
    lines = []
    if architecture in ARCHITECTURES_REGISTERED_BY_DEEPART_HF:
        lines += [f"import deepart_hf.models  # registers {architecture} with timm before loading"]
    lines += ["from transformers import pipeline", ""]
    if preprocess_mode(processor) == "crop":
        lines += [
            "# This detector averages native-resolution crops; the code that does it is saved with the model.",
            f'detector = pipeline("image-classification", model="{repo_id}", trust_remote_code=True)',
            "# With deepart-hf installed, `import deepart_hf.models` registers that code and trust_remote_code is not needed.",
        ]
    else:
        lines += [f'detector = pipeline("image-classification", model="{repo_id}")']
    labels = classes or ["ai", "human"]
    lines += [
        f"detector(\"painting.png\")  # [{{'label': '{labels[-1]}', 'score': ...}}, {{'label': '{labels[0]}', 'score': ...}}, ...]"
        if classes
        else "detector(\"painting.png\")  # [{'label': 'ai', 'score': ...}, {'label': 'human', 'score': ...}]",
        "",
        "# The same probabilities, in batches, from deepart-hf:",
        "import deepart_hf",
        f'print([p.prob_ai for p in deepart_hf.load_detector("{repo_id}").predict(["painting.png"])])',
        *(
            [
                f'print([(p.generator, p.class_probs) for p in deepart_hf.load_detector("{repo_id}").predict(["painting.png"])])'
            ]
            if classes
            else []
        ),
    ]
    return "\n".join(line for i, line in enumerate(lines) if line or i)
