"""What an attribution run (``train.py --task attribution``) leaves in its output folder: metrics.json with the
per-class accuracy, macro-F1, K x K confusion matrix and the human-vs-AI metrics derived from P(ai) = 1 - P(real),
predictions.csv with every class's probability, the confusion matrix and ROC plots, and the model card.

The binary detector's calibration and robustness suite are skipped (``training.attribution.SKIPPED_FOR_ATTRIBUTION``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..constants import REAL_GENERATOR
from ..evaluation.attribution import attribution_metrics, write_attribution_predictions_csv
from ..evaluation.plots import plot_confusion_matrix, plot_roc_curve, plot_training_curves
from ..evaluation.tables import counts_line, results_markdown
from ..files import write_json
from ..models import model_labels
from ..models.scores import attribution_log_odds_ai
from .arguments import Arguments
from .attribution import SKIPPED_FOR_ATTRIBUTION
from .model_card import dataset_label, render_model_card
from .prepared_streams import example_ids


def evaluate_attribution_and_report(args: Arguments, trainer, model, processor, splits, history: list[dict]) -> dict:
    """Predict the test split and write the attribution run's files (the module docstring lists them)."""
    from .report import run_summary

    output = trainer.predict(splits.test, metric_key_prefix="test")
    logits = np.asarray(
        output.predictions[0] if isinstance(output.predictions, tuple) else output.predictions, dtype=np.float64
    )
    references = np.asarray(output.label_ids).astype(np.int64)
    names = model_labels(model.config)
    metrics = attribution_metrics(logits, references, names)
    if not trainer.is_world_process_zero():
        return metrics

    out = Path(args.training.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_attribution_predictions_csv(out / "predictions.csv", example_ids(splits.test), references, logits, names)
    title = f"{Path(args.model.model_name_or_path or args.model.model).name} on {dataset_label(args)}"
    plot_confusion_matrix(
        metrics["confusion_matrix"], out / "confusion_matrix.png", title=f"Attribution: {title}", labels=names
    )
    written = ["metrics.json", "predictions.csv", "confusion_matrix.png"]
    detection = metrics.get("detection")
    if detection is not None:
        is_ai = (references != names.index(REAL_GENERATOR)).astype(np.int64)
        plot_roc_curve(
            is_ai,
            attribution_log_odds_ai(logits, names),
            out / "roc_curve.png",
            title=f"Real vs generated, P(ai) = 1 - P(real): {title}",
        )
        written.append("roc_curve.png")
    if history:
        plot_training_curves(history, out / "training_curves.png")
        written.append("training_curves.png")

    summary = run_summary(args, model, processor, metrics)
    summary.update(
        task="attribution", label_column=args.data.label_column, classes=names, skipped=SKIPPED_FOR_ATTRIBUTION
    )
    if not args.run.eval_only:
        card = render_model_card(
            args,
            model,
            processor,
            detection or {"n": metrics["n"]},
            summary,
            has_curves=bool(history),
            attribution=attribution_markdown(metrics, args.data.label_column),
        )
        card.save(out / "README.md")
        written += ["README.md (model card)", "the model and its image processor"]
    write_json(out / "metrics.json", summary)  # last: its presence marks a finished run

    print(
        f"Attribution results: {title} ({metrics['n']} images)\n{attribution_markdown(metrics, args.data.label_column)}"
    )
    if detection is not None:
        print(f"Real vs generated (P(ai) = 1 - P(real)):\n{results_markdown(detection)}\n{counts_line(detection)}")
    print(f"Skipped: {SKIPPED_FOR_ATTRIBUTION}.")
    print(f"Wrote {', '.join(written)} to {out}")
    return metrics


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
