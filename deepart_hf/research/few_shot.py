"""The few-shot learning curve: the work of ``deepart-hf few-shot`` (its arguments and description: ``few_shot_command.py``)."""

from __future__ import annotations

import argparse
import os
import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml
from datasets import DatasetDict
from sklearn.base import clone

from ..cards import markdown_table
from ..constants import AI, HUMAN
from ..data.loading import checked_split, load_splits
from ..errors import DeepArtError
from ..evaluation.detector_metric.detector_metric import detection_metrics
from ..files import atomic_destination, write_json
from . import plots
from .baselines import (
    DEFAULT_MAX_MEMORY_GB,
    DEFAULT_PIXELS,
    check_memory,
    feature_reader,
    log_odds,
    make_models,
)
from .data import GROUP_COLUMN, classification_images
from .fidelity_study import check_output_dir

RESULT_FILE = "few_shot.json"
ALL = "all"
CURVE_METRICS = ("accuracy", "auroc")
SET_HERE = ("--dataset", "--model", "--seed", "--output_dir", "--dataset_config")


def parse_shots(text: str) -> list[str]:
    shots = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if part != ALL and (not part.isdigit() or int(part) < 1):
            raise DeepArtError(f"--shots: {part!r} is neither a positive number of images per class nor {ALL!r}")
        shots.append(part)
    if not shots:
        raise DeepArtError("--shots is empty")
    return sorted(set(shots), key=lambda s: (s == ALL, int(s) if s != ALL else 0))


def sample_shots(labels, groups, k: int, seed: int) -> list[int]:
    """Row indices of up to k images per class, taken whole group by whole group in a seeded random order
    (rows without a group are groups of their own)."""
    members: dict[str, list[int]] = defaultdict(list)
    for row, group in enumerate(groups):
        members[group if group is not None else f"\0{row}"].append(row)
    keys = sorted(members)
    order = [keys[i] for i in np.random.default_rng(seed).permutation(len(keys))]
    counts, chosen = {HUMAN: 0, AI: 0}, []
    for key in order:
        for row in members[key]:
            if counts[labels[row]] < k:
                chosen.append(row)
                counts[labels[row]] += 1
        if min(counts.values()) >= k:
            break
    return sorted(chosen)


def write_shot_dataset(folder: Path, train, shared: dict[str, str]) -> Path:
    """A dataset folder train.py reads: its own k-shot training split, and the shared evaluation splits."""
    folder.mkdir(parents=True, exist_ok=True)
    train.to_parquet(str(folder / "train.parquet"))
    data_files = [
        {"split": "train", "path": "train.parquet"},
        *({"split": split, "path": path} for split, path in shared.items()),
    ]
    header = yaml.safe_dump({"configs": [{"config_name": "default", "data_files": data_files}]}, sort_keys=False)
    with atomic_destination(folder / "README.md") as temporary:
        temporary.write_text(
            f"---\n{header}---\n\nA k-shot training split written by `deepart-hf few-shot`.\n", encoding="utf-8"
        )
    return folder


def _mean_sd(values: list[float | None]) -> tuple[float, float] | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def run_few_shot(
    dataset: str,
    output_dir: str | Path,
    *,
    model: str,
    shots: list[str],
    seeds: int = 3,
    config: str | None = None,
    train_config=None,
    baseline_features: str | None = "pixels",
    pixels: int = DEFAULT_PIXELS,
    workers: int = 2,
    overwrite: bool = False,
    command: str | None = None,
) -> dict:
    """The whole curve from Python; returns what few_shot.json holds. ``train_config``: the training config
    every run derives from (its dataset, model, seed and folder replaced); default: the flags' defaults."""
    from ..training.arguments import parse_arguments
    from ..training.config import config_command
    from ..training.run import finished_run
    from ..training.run import train as train_run

    if seeds < 1:
        raise DeepArtError(f"--seeds must be at least 1, got {seeds}")
    out = check_output_dir(output_dir, RESULT_FILE, overwrite)
    if overwrite:
        clear_previous_curve(out)

    where = f"dataset {dataset!r}"
    splits: DatasetDict = load_splits(dataset, config)
    train = checked_split(splits, "train", where)
    labels = np.array(train["label"])
    groups = train[GROUP_COLUMN] if GROUP_COLUMN in train.column_names else [None] * len(train)
    available = min(int(np.sum(labels == HUMAN)), int(np.sum(labels == AI)))
    skipped = [s for s in shots if s != ALL and int(s) >= available]
    shots = [s for s in shots if s not in skipped]
    if skipped:
        print(
            f"few-shot: the training split has {available} images of its smaller class; k = {', '.join(skipped)} would be (nearly) all of it: skipped"
        )
    if not shots:
        raise DeepArtError(f"{where}: no --shots value below the {available} training images of the smaller class")

    shared = {}
    for name in (n for n in ("validation", "test") if n in splits):
        shared[name] = str((out / "data" / f"{name}.parquet").resolve())
        if not Path(shared[name]).is_file():
            splits[name].to_parquet(shared[name])

    if train_config is None:
        train_config = parse_arguments(["--dataset", dataset, "--model", model, "--output_dir", str(out / "runs")])
    # what the runs' --max_eval_samples tests on, so the baselines see the same test images
    test_images = classification_images(
        "test", checked_split(splits, "test", where, train_config.data.max_eval_samples), where
    )
    train_images = classification_images("train", train, where)
    test_labels = np.array([image.label for image in test_images])
    baseline_x = None
    if baseline_features:
        # the few-shot baselines keep the test matrix too, since every (k, seed) scores it again
        check_memory(baseline_features, len(train_images) + len(test_images), pixels, DEFAULT_MAX_MEMORY_GB)
        read = feature_reader(baseline_features, pixels, workers)
        baseline_x = (read(train_images, "train"), read(test_images, "test"))

    runs = []
    for shot in shots:
        for seed in range(seeds):
            rows = list(range(len(train))) if shot == ALL else sample_shots(labels, groups, int(shot), seed)
            name = f"k{shot}-seed{seed}"
            folder = write_shot_dataset(out / "data" / name, splits["train"].select(rows), shared)
            run_config = train_config.with_changes(
                model={"model": model},
                data={"dataset": str(folder), "dataset_config": None},
                training={"seed": seed, "output_dir": str(out / "runs" / name)},
            )
            print(f"few-shot: k = {shot}, seed {seed}: training {model} on {len(rows)} images")
            metrics = (finished_run(run_config) or train_run(run_config)).metrics
            entry = {
                "shots": shot,
                "seed": seed,
                "n_train": len(rows),
                "detector": {m: metrics.get(m) for m in (*CURVE_METRICS, "mean_accuracy")},
            }
            if baseline_x is not None:
                entry["baselines"] = {}
                for baseline, estimator in make_models(len(rows), seed).items():
                    fitted = clone(estimator).fit(baseline_x[0][rows], labels[rows])
                    scores = log_odds(fitted, baseline_x[1])
                    result = detection_metrics(np.where(scores >= 0, AI, HUMAN), test_labels, scores)
                    entry["baselines"][baseline] = {m: result.get(m) for m in (*CURVE_METRICS, "mean_accuracy")}
            runs.append(entry)

    def curve(pick) -> dict[str, list]:
        return {m: [_mean_sd([pick(r)[m] for r in runs if r["shots"] == s]) for s in shots] for m in CURVE_METRICS}

    detector_curve = curve(lambda r: r["detector"])
    baseline_curves = {b: curve(lambda r, b=b: r["baselines"][b]) for b in (runs[0].get("baselines") or {})}
    labels_x = [f"{ALL} ({max(r['n_train'] for r in runs if r['shots'] == ALL)})" if s == ALL else s for s in shots]
    plots.plot_few_shot(
        labels_x,
        detector_curve,
        {f"{b} ({baseline_features})": c for b, c in baseline_curves.items()},
        model,
        out / "few_shot.png",
    )
    result = {
        "dataset": dataset,
        "config": config,
        "model": model,
        "shots": shots,
        "skipped_shots": skipped,
        "seeds": seeds,
        "train_command": config_command(train_config),
        "baseline_features": baseline_features,
        "pixels": pixels if baseline_features == "pixels" else None,
        "n_test": len(test_images),
        "runs": runs,
        "detector": detector_curve,
        "baselines": baseline_curves,
        "command": command,
    }
    with atomic_destination(out / "report.md") as temporary:
        temporary.write_text(report_markdown(result, labels_x), encoding="utf-8")
    write_json(out / RESULT_FILE, result)
    return result


def _cell(value: tuple[float, float] | None) -> str:
    return "n/a" if value is None else f"{100 * value[0]:.1f} ± {100 * value[1]:.1f}"


def report_markdown(result: dict, shot_labels: list[str]) -> str:
    names = [result["model"], *result["baselines"]]
    curves = [result["detector"], *result["baselines"].values()]
    header = ["images per class", *(f"{name} {metric} %" for name in names for metric in ("acc.", "AUROC"))]
    rows = [[label, *(_cell(c[m][i]) for c in curves for m in CURVE_METRICS)] for i, label in enumerate(shot_labels)]
    lines = [
        "# Few-shot learning curve",
        "",
        f"`{result['model']}` trained on k images per class of `{result['dataset']}` (drawn by painting), tested on "
        f"{result['n_test']} test images; mean ± sd over {result['seeds']} seed(s)."
        + (
            f" Classical baselines on {result['baseline_features']} fitted on the same images."
            if result["baseline_features"]
            else ""
        ),
        "",
        markdown_table(header, rows),
        "",
        "![few-shot curve](few_shot.png)",
        "",
    ]
    if result["skipped_shots"]:
        lines += [
            f"Skipped k = {', '.join(result['skipped_shots'])}: not below the training split's smaller class.",
            "",
        ]
    if result.get("command"):
        lines += ["```", result["command"], "```", ""]
    return "\n".join(lines)


def clear_previous_curve(out: Path) -> None:
    """--overwrite: a previous curve's runs/ and data/ go, only when ``out`` holds its result file, or (a curve
    cut short) every folder in runs/ holds a training run's record; otherwise one line and nothing deleted."""
    from ..training.run import RUN_RECORD

    present = [out / name for name in ("runs", "data") if os.path.lexists(out / name)]
    runs = sorted((out / "runs").iterdir()) if (out / "runs").is_dir() and not (out / "runs").is_symlink() else []
    ours = (out / RESULT_FILE).is_file() or (bool(runs) and all((run / RUN_RECORD).is_file() for run in runs))
    if present and (not ours or any(path.is_symlink() for path in present)):
        raise DeepArtError(
            f"{out} holds {' and '.join(p.name + '/' for p in present)} but no {RESULT_FILE} or recorded runs, so "
            "no few-shot curve wrote them: --overwrite deleted nothing; move them away or choose another --output_dir"
        )
    for folder in present:
        shutil.rmtree(folder)


def main(args: argparse.Namespace, extra: list[str] | None = None) -> int:
    from ..training.arguments import parse_arguments

    flags = list(extra or [])
    clash = [flag for flag in flags if flag.split("=")[0] in SET_HERE]
    if clash:
        raise DeepArtError(f"few-shot sets {', '.join(SET_HERE)} itself; remove {clash[0]} from the train.py flags")
    # the dataset and folder are placeholders, replaced for every run
    train_config = parse_arguments(
        [*flags, "--dataset", args.dataset, "--model", args.model, "--output_dir", args.output_dir]
    )
    result = run_few_shot(
        args.dataset,
        args.output_dir,
        model=args.model,
        shots=parse_shots(args.shots),
        seeds=args.seeds,
        config=args.config,
        train_config=train_config,
        baseline_features=None if args.baseline_features == "none" else args.baseline_features,
        pixels=args.pixels,
        workers=args.workers,
        overwrite=args.overwrite,
        command=args.command_line,
    )
    print(report_markdown(result, result["shots"]))
    print(f"Wrote {RESULT_FILE}, few_shot.png and report.md to {args.output_dir}")
    return 0
