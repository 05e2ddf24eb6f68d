"""The classical baselines: the work of ``deepart-hf baselines`` (its arguments and description: ``baselines_command.py``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.special import logit
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier
from tqdm.auto import tqdm

from ..constants import AI, HUMAN, ID2LABEL
from ..data.images import decode_image
from ..errors import DeepArtError
from ..evaluation.intervals import N_RESAMPLES, metric_intervals
from ..evaluation.plots import plot_confusion_matrix, plot_roc_curve
from ..evaluation.predictions import write_predictions_csv
from ..evaluation.tables import comparison_markdown
from ..files import atomic_destination, write_json
from .baselines_command import DEFAULT_MAX_MEMORY_GB, DEFAULT_PIXELS, FEATURE_SETS
from .data import ImageRef, read_collection
from .fidelity import FEATURES, extract_features
from .fidelity_study import STORED, check_output_dir

BATCH = 64  # test images decoded and predicted at a time
PROBABILITY_CLIP = 1e-6  # log-odds of a 0/1 vote (a tree's leaf) stay finite: about ±13.8
RESULT_FILE = "baselines.json"


def make_models(n_train: int, seed: int = 0) -> dict[str, object]:
    """The five classifiers, unfitted. Distances and margins need standardized inputs; trees do not."""
    return {
        "svm": make_pipeline(StandardScaler(), SVC(kernel="rbf", random_state=seed)),
        "decision_tree": DecisionTreeClassifier(random_state=seed),
        "random_forest": RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=1),
        "knn": make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=max(1, min(5, n_train - 1)))),
        "logistic_regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
    }


def log_odds(model, features: np.ndarray) -> np.ndarray:
    """The score every metric ranks by, "ai" when >= 0. Classifiers with probabilities give logit(P(ai)), clipped;
    the SVM (scikit-learn deprecates its Platt probabilities) gives its signed margin, positive for "ai"."""
    if not hasattr(model, "predict_proba"):
        return np.asarray(model.decision_function(features), dtype=np.float64)
    probabilities = model.predict_proba(features)[:, list(model.classes_).index(AI)]
    return logit(np.clip(probabilities.astype(np.float64), PROBABILITY_CLIP, 1 - PROBABILITY_CLIP))


def pixel_row(image: ImageRef, side: int) -> np.ndarray:
    resized = decode_image(image.value).resize((side, side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return (np.asarray(resized, dtype=np.float32) / 255.0).reshape(-1)


def pixel_matrix(images: list[ImageRef], side: int, desc: str = "pixels") -> np.ndarray:
    matrix = np.empty((len(images), side * side * 3), dtype=np.float32)
    for row, image in enumerate(tqdm(images, desc=desc, unit="img", leave=False)):
        matrix[row] = pixel_row(image, side)
    return matrix


def fidelity_matrix(images: list[ImageRef], workers: int, desc: str = "fidelity features") -> np.ndarray:
    measured = extract_features(
        (image.value for image in images), total=len(images), workers=workers, desc=desc, format_control=False
    )
    return np.array([[item.features[STORED][name] for name in FEATURES] for item in measured], dtype=np.float32)


def feature_reader(feature_set: str, side: int, workers: int) -> Callable[[list[ImageRef], str], np.ndarray]:
    if feature_set == "pixels":
        return lambda images, desc: pixel_matrix(images, side, desc)
    return lambda images, desc: fidelity_matrix(images, workers, desc)


def check_memory(feature_set: str, n_train: int, side: int, max_memory_gb: float) -> None:
    if feature_set != "pixels":
        return
    needed = n_train * side * side * 3 * 4 / 1e9
    if needed > max_memory_gb:
        raise DeepArtError(
            f"the training matrix of {n_train} images at {side}x{side} pixels needs {needed:.1f} GB (float32), "
            f"above --max_memory_gb {max_memory_gb}; lower --pixels or raise --max_memory_gb"
        )


def fit_and_score(
    models: dict, train_x: np.ndarray, train_y: np.ndarray, test_images: list[ImageRef], read: Callable, desc: str
) -> dict[str, np.ndarray]:
    """Fit every model, then score the test images batch by batch: {model: log-odds per test image}."""
    fitted = {
        name: clone(model).fit(train_x, train_y)
        for name, model in tqdm(models.items(), desc=f"fitting ({desc})", leave=False)
    }
    scores = {name: [] for name in fitted}
    for start in range(0, len(test_images), BATCH):
        batch = read(
            test_images[start : start + BATCH], f"test {desc} {start // BATCH + 1}/{-(-len(test_images) // BATCH)}"
        )
        for name, model in fitted.items():
            scores[name].append(log_odds(model, batch))
    return {name: np.concatenate(parts) for name, parts in scores.items()}


def write_model_results(
    out: Path, title: str, test_images: list[ImageRef], references: np.ndarray, scores: np.ndarray, n_bootstrap: int
) -> dict:
    """What a trained detector leaves, for one classifier: metrics with intervals, predictions, plots."""
    metrics = metric_intervals(references, scores, threshold_log_odds=0.0, n_resamples=n_bootstrap)
    predictions = np.where(scores >= 0.0, AI, HUMAN)
    write_predictions_csv(
        out / "predictions.csv", [image.image_id for image in test_images], references, predictions, scores
    )
    plot_confusion_matrix(metrics["confusion_matrix"], out / "confusion_matrix.png", title=title)
    plot_roc_curve(references, scores, out / "roc_curve.png", title=title)
    write_json(out / "metrics.json", metrics)
    return metrics


def split_images(
    dataset: str, config: str | None, train_splits: list[str], test_split: str
) -> tuple[list[ImageRef], list[ImageRef]]:
    collection = read_collection(dataset, config, [*train_splits, test_split])
    if collection.paired:
        raise DeepArtError(
            f"{collection.where} is a pairs configuration; baselines classify single images: leave out --config pairs"
        )
    train = [image for name in train_splits for image in collection.split(name)]
    test = collection.split(test_split)
    if {image.label for image in train} != {HUMAN, AI}:
        raise DeepArtError(
            f"{collection.where}: training split(s) {', '.join(train_splits)} must hold both human and ai images"
        )
    return train, test


def run_baselines(
    dataset: str,
    output_dir: str | Path,
    *,
    config: str | None = None,
    feature_sets: tuple[str, ...] = FEATURE_SETS,
    pixels: int = DEFAULT_PIXELS,
    train_splits: tuple[str, ...] = ("train",),
    test_split: str = "test",
    workers: int = 2,
    n_bootstrap: int = N_RESAMPLES,
    max_memory_gb: float = DEFAULT_MAX_MEMORY_GB,
    seed: int = 0,
    overwrite: bool = False,
    command: str | None = None,
) -> dict:
    """Every classifier on every feature set; returns what baselines.json holds."""
    out = check_output_dir(output_dir, RESULT_FILE, overwrite)
    train, test = split_images(dataset, config, list(train_splits), test_split)
    train_y = np.array([image.label for image in train])
    references = np.array([image.label for image in test])
    results: dict[str, dict] = {}
    for feature_set in feature_sets:
        check_memory(feature_set, len(train), pixels, max_memory_gb)
        read = feature_reader(feature_set, pixels, workers)
        train_x = read(train, f"train {feature_set}")
        scores = fit_and_score(make_models(len(train), seed), train_x, train_y, test, read, feature_set)
        for name, model_scores in scores.items():
            title = f"{name} on {feature_set}" + (f" ({pixels}x{pixels})" if feature_set == "pixels" else "")
            results[f"{name} / {feature_set}"] = {
                "model": name,
                "features": feature_set,
                "folder": f"{feature_set}/{name}",
                "metrics": write_model_results(
                    out / feature_set / name, title, test, references, model_scores, n_bootstrap
                ),
            }
    summary = {
        "dataset": dataset,
        "config": config,
        "train_splits": list(train_splits),
        "test_split": test_split,
        "n_train": {ID2LABEL[label]: int(np.sum(train_y == label)) for label in (HUMAN, AI)},
        "n_test": {ID2LABEL[label]: int(np.sum(references == label)) for label in (HUMAN, AI)},
        "pixels": pixels,
        "feature_sets": {
            "pixels": f"RGB squashed to {pixels}x{pixels}, float32 in [0, 1], {pixels * pixels * 3} values per image",
            "fidelity": f"the {len(FEATURES)} fidelity features of `deepart-hf fidelity` (as stored)",
        },
        "score": "log-odds logit(P(ai)) clipped at 1e-6, or the SVM's signed margin; ai when >= 0",
        "results": results,
        "command": command,
    }
    table = comparison_markdown(
        {key: entry["metrics"] for key, entry in results.items()}, name_header="model / features"
    )
    report = [
        "# Classical baselines",
        "",
        f"Dataset `{dataset}`: fitted on {', '.join(train_splits)} ({summary['n_train']['human']} human, {summary['n_train']['ai']} ai), "
        f"tested on {test_split} ({summary['n_test']['human']} human, {summary['n_test']['ai']} ai). Percentages with 95% intervals "
        "(stratified bootstrap widened to at least the Wilson interval, as for the deep models).",
        "",
        table,
        "",
        *(f"- {name}: {text}" for name, text in summary["feature_sets"].items() if name in feature_sets),
        f"- score: {summary['score']}",
        "",
        *(["```", command, "```", ""] if command else []),
    ]
    with atomic_destination(out / "report.md") as temporary:
        temporary.write_text("\n".join(report), encoding="utf-8")
    write_json(out / RESULT_FILE, summary)
    return summary


def main(args: argparse.Namespace) -> int:
    if args.pixels < 1:
        raise DeepArtError(f"--pixels must be a positive number of pixels, got {args.pixels}")
    summary = run_baselines(
        args.dataset,
        args.output_dir,
        config=args.config,
        feature_sets=FEATURE_SETS if args.features == "both" else (args.features,),
        pixels=args.pixels,
        train_splits=tuple(s.strip() for s in args.train_split.split(",") if s.strip()),
        test_split=args.test_split,
        workers=args.workers,
        n_bootstrap=args.bootstrap,
        max_memory_gb=args.max_memory_gb,
        seed=args.seed,
        overwrite=args.overwrite,
        command=args.command_line,
    )
    print(
        comparison_markdown(
            {key: entry["metrics"] for key, entry in summary["results"].items()}, name_header="model / features"
        )
    )
    print(f"Wrote {RESULT_FILE}, report.md and one folder per classifier to {args.output_dir}")
    return 0
