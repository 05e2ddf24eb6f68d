"""Leave one generator out: does a recipe recognise a generator it never saw? The work of
``deepart-hf cross-eval --leave_one_generator_out`` (arguments: ``cross_source_command.py``).

One dataset with a ``generator`` column (D-ANI, the synthetic set with generators, a folder built with
``--name-pattern`` or ``--metadata``) is pooled over its splits. Its human images are split once (``--human_split``,
seeded), the same for every fold, so the folds differ only in their ai images; each other generator's images are
split into training and validation by the same ratio's first two parts. Fold *g* trains on the human training share
and every other generator, validates on their validation shares (the calibrated decision is set there, on
generators it knows), and is tested on the human test share and every image of *g*. Each fold is written as a
dataset folder (``folds/without-<g>/``) and trained by ``train`` like any other run, in ``train-without-<g>/``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from datasets import ClassLabel, Image, concatenate_datasets
from tqdm.auto import tqdm

from ..cards import markdown_table
from ..constants import DEFAULT_SEED, HUMAN, N_RESAMPLES, REAL_GENERATOR, SPLITS
from ..data.loading import load_splits
from ..data.schema import GENERATOR_COLUMN
from ..data.splits import SplitRatio, split_by_ratio
from ..errors import DeepArtError
from ..evaluation.intervals import metric_intervals, wilson_interval
from ..evaluation.predictions import read_predictions_csv
from ..evaluation.suite import interval_cell
from ..files import atomic_destination, atomic_folder, write_json
from ..training.model_card import LEAVE_ONE_OUT_KEY, leave_one_out_markdown
from .cross_source_command import DEFAULT_HUMAN_SPLIT

REPORT_KEY = "leave_one_generator_out"  # in cross_source.json: held-out generator -> what its fold trained on, metrics
FOLD_MARKER = "deepart-hf-fold.json"
SUMMARY = (("auroc", "AUROC"), ("mean_accuracy", "mean accuracy"))


def pooled_generators(dataset: str, config: str | None) -> tuple[object, list[str]]:
    """(every row of the dataset, its splits concatenated; the generator names, ``real`` first)."""
    splits = load_splits(dataset, config)
    where = f"dataset {dataset}" + (f" ({config})" if config else "")
    first = next(iter(splits.values()))
    feature = first.features.get(GENERATOR_COLUMN)
    if not isinstance(feature, ClassLabel) or REAL_GENERATOR not in feature.names:
        raise DeepArtError(
            f"{where} has no {GENERATOR_COLUMN!r} ClassLabel column with a {REAL_GENERATOR!r} class; build a folder "
            "with --name-pattern 'ai=(?P<generator>...)' or --metadata FILE (a file_name and a generator column)"
        )
    pooled = concatenate_datasets([splits[name] for name in splits])
    generators = [name for name in feature.names if name != REAL_GENERATOR]
    present = set(pooled[GENERATOR_COLUMN]) - {feature.str2int(REAL_GENERATOR)}
    if len(present) < 2:
        raise DeepArtError(f"{where} has {len(present)} generator(s) with images; leaving one out needs at least two")
    return pooled, [name for name in generators if feature.str2int(name) in present]


def fold_indices(pooled, generators: list[str], human_split: str, seed: int) -> dict[str, dict[str, list[int]]]:
    """{held-out generator: {split: row indices}}: one split of the human images for every fold."""
    feature = pooled.features[GENERATOR_COLUMN]
    rows = [
        {"index": i, "label": int(label), "generator": int(generator), "image_id": image_id}
        for i, (label, generator, image_id) in enumerate(
            zip(pooled["label"], pooled[GENERATOR_COLUMN], pooled["image_id"])
        )
    ]
    ratio = SplitRatio.parse(human_split)
    humans = [row for row in rows if row["label"] == HUMAN]
    human_plan = split_by_ratio(humans, ratio, seed=seed, group_by="image_id")
    train_share = SplitRatio.parse(f"{ratio.parts[0]}:{ratio.parts[1]}:0")
    by_generator = {}
    for name in generators:
        made = [row for row in rows if row["generator"] == feature.str2int(name)]
        plan = split_by_ratio(made, train_share, seed=seed, group_by="image_id")
        by_generator[name] = {
            split: [made[i]["index"] for i in plan.indices[split]] for split in ("train", "validation")
        }
        by_generator[name]["all"] = [row["index"] for row in made]
    human = {split: [humans[i]["index"] for i in human_plan.indices[split]] for split in SPLITS}
    return {
        held_out: {
            "train": human["train"] + [i for g in generators if g != held_out for i in by_generator[g]["train"]],
            "validation": human["validation"]
            + [i for g in generators if g != held_out for i in by_generator[g]["validation"]],
            "test": human["test"] + by_generator[held_out]["all"],
        }
        for held_out in generators
    }


def write_fold(pooled, indices: dict[str, list[int]], folder: Path, record: dict) -> Path:
    """The fold as a dataset folder train.py reads (``<split>.parquet``); an identical fold already there is kept."""
    marker = folder / FOLD_MARKER
    if marker.is_file() and json.loads(marker.read_text(encoding="utf-8")) == record:
        return folder
    with atomic_folder(folder, FOLD_MARKER, record, overwrite=True) as temporary:
        for split, rows in indices.items():
            pooled.select(sorted(rows)).to_parquet(str(temporary / f"{split}.parquet"))
    return folder


def leave_one_generator_out(
    dataset: str,
    output_dir,
    config,
    *,
    human_split: str = DEFAULT_HUMAN_SPLIT,
    seed: int = DEFAULT_SEED,
    n_resamples: int = N_RESAMPLES,
) -> dict:
    """Train ``config`` (its dataset and folder replaced, without the robustness checks) once per generator of
    ``dataset``, that generator held out; returns what cross_source.json holds."""
    from ..inference.detector import load_detector
    from ..training.config import config_command, dataset_and_config
    from ..training.run import finished_run, train

    out = Path(output_dir)
    if (out / "cross_source.json").exists():
        raise DeepArtError(f"{out} already holds a cross-source report; choose another --output_dir")
    name, dataset_config = dataset_and_config(dataset)
    pooled, generators = pooled_generators(name, dataset_config)
    folds = fold_indices(pooled, generators, human_split, seed)
    location = str(Path(name).resolve()) if Path(name).exists() else name
    results, commands = {}, {}
    for held_out, indices in folds.items():
        record = {"dataset": location, "config": dataset_config, "held_out": held_out, "human_split": human_split}
        record |= {"seed": seed, "rows": {split: sorted(rows) for split, rows in indices.items()}}
        folder = write_fold(pooled, indices, out / "folds" / f"without-{held_out}", record)
        run_dir = out / f"train-without-{held_out}"
        run_config = config.with_changes(
            data={"dataset": str(folder), "dataset_config": None},
            run={"robustness": "none"},
            training={"output_dir": str(run_dir)},
        )
        finished_run(run_config) or train(run_config)
        commands[held_out] = config_command(run_config)
        predictions = read_predictions_csv(run_dir / "predictions.csv")
        detector = load_detector(run_dir)
        results[held_out] = {
            "trained_on": [f"{REAL_GENERATOR} (training share)", *(g for g in generators if g != held_out)],
            "n_train": len(indices["train"]),
            "metrics": metric_intervals(
                predictions["label"],
                predictions["log_odds_ai"],
                threshold_log_odds=detector.calibration.threshold_log_odds,
                n_resamples=n_resamples,
            ),
            "unfamiliar": unfamiliar_shares(detector, pooled, indices["test"]),
        }
    report = {
        "dataset": location,
        "generators": generators,
        "human_split": {
            "ratio": human_split,
            "seed": seed,
            **{split: _human_count(pooled, folds[generators[0]][split]) for split in SPLITS},
        },
        REPORT_KEY: results,
        "mean": fold_means(results),
        "train_commands": commands,
    }
    write_json(out / "cross_source.json", report)
    with atomic_destination(out / "cross_source.md") as temporary:
        temporary.write_text(generator_folds_markdown(report), encoding="utf-8")
    plot_generator_folds(report, out / "cross_source.png")
    return report


def unfamiliar_shares(detector, pooled, rows: list[int]) -> dict | None:
    """The share of the test's human images and of the held-out generator's images the detector's familiarity
    flags as unlike its training images, with Wilson intervals; None for a detector that carries none. Does it
    flag the generator it never saw more often than human images it never saw either?"""
    if detector.familiarity is None:
        return None
    test = pooled.select(rows).cast_column("image", Image(decode=False))
    flags = np.array([not p.familiar for p in detector.predict(tqdm(test["image"], desc="familiarity", unit="img"))])
    labels = np.asarray(test["label"])
    shares = {}
    for name, mask in (("human", labels == HUMAN), ("held_out_generator", labels != HUMAN)):
        flagged, n = int(flags[mask].sum()), int(mask.sum())
        low, high = wilson_interval(flagged, n) if n else (None, None)
        shares[name] = {"value": flagged / n if n else None, "low": low, "high": high, "flagged": flagged, "n": n}
    return shares


def _human_count(pooled, rows: list[int]) -> int:
    return int((np.asarray(pooled["label"])[rows] == HUMAN).sum())


def fold_means(results: dict) -> dict:
    """The unweighted mean of each summary metric over the folds, and the weakest and strongest fold."""
    means = {}
    for key, _ in SUMMARY:
        values = {g: entry["metrics"][key]["value"] for g, entry in results.items()}
        known = {g: v for g, v in values.items() if v is not None}
        means[key] = {
            "value": float(np.mean(list(known.values()))) if known else None,
            "lowest": min(known, key=known.get) if known else None,
            "highest": max(known, key=known.get) if known else None,
        }
    return means


def generator_folds_markdown(report: dict) -> str:
    split = report["human_split"]
    table = leave_one_out_markdown({LEAVE_ONE_OUT_KEY: report[REPORT_KEY]})
    mean = report["mean"]
    means = ", ".join(
        f"{title} {100 * mean[key]['value']:.2f}% (lowest: {mean[key]['lowest']})"
        for key, title in SUMMARY
        if mean[key]["value"] is not None
    )
    rows = [
        [g, *(interval_cell(entry["metrics"][key]) for key, _ in SUMMARY)] for g, entry in report[REPORT_KEY].items()
    ]
    rows.append(["**mean of folds**", *(f"**{100 * mean[key]['value']:.2f}**" for key, _ in SUMMARY)])
    return "\n".join(
        [
            "### Leave one generator out (%, 95% interval): trained on the others, tested on the held-out one",
            "",
            f"Human images split once for every fold ({split['ratio']}, seed {split['seed']}: {split['train']} "
            f"training, {split['validation']} validation, {split['test']} test); each fold's test set is the "
            "human test share and every image of the held-out generator.",
            "",
            markdown_table(["held out", *(title for _, title in SUMMARY)], rows),
            "",
            f"Mean over {len(report[REPORT_KEY])} folds: {means}.",
            "",
            *familiarity_lines(report),
            "Every metric of each fold:",
            "",
            table,
            "",
        ]
    )


def familiarity_lines(report: dict) -> list[str]:
    """The familiarity check of each fold as a table, when its detectors carry familiarity data."""
    folds = {g: entry["unfamiliar"] for g, entry in report[REPORT_KEY].items() if entry.get("unfamiliar")}
    if not folds:
        return []
    rows = [
        [
            g,
            *(
                f"{interval_cell(shares[k])} ({shares[k]['flagged']}/{shares[k]['n']})"
                for k in ("held_out_generator", "human")
            ),
        ]
        for g, shares in folds.items()
    ]
    return [
        "Familiarity check: the share of test images each fold's detector flags as unlike its training images "
        "(%, 95% Wilson interval). It flags the unseen generator only where that share is above the human one.",
        "",
        markdown_table(["held out", "held-out generator's images flagged", "human test images flagged"], rows),
        "",
    ]


def plot_generator_folds(report: dict, path) -> Path:
    """Each fold's AUROC and mean accuracy with their intervals, the mean of folds and chance."""
    from matplotlib.figure import Figure

    from ..evaluation.plots import save_figure

    folds = report[REPORT_KEY]
    names = list(folds)
    figure = Figure(figsize=(5 * len(SUMMARY), 1.4 + 0.5 * len(names)))
    for index, (key, title) in enumerate(SUMMARY):
        axes = figure.add_subplot(1, len(SUMMARY), index + 1)
        cells = [folds[g]["metrics"][key] for g in names]
        values = np.array([c["value"] if c["value"] is not None else np.nan for c in cells], dtype=float)
        lows = np.array([c["low"] if c["low"] is not None else np.nan for c in cells], dtype=float)
        highs = np.array([c["high"] if c["high"] is not None else np.nan for c in cells], dtype=float)
        positions = np.arange(len(names))
        axes.barh(positions, values, color="tab:blue", alpha=0.7)
        axes.errorbar(values, positions, xerr=[values - lows, highs - values], fmt="none", ecolor="black", capsize=3)
        axes.axvline(0.5, color="grey", linestyle=":", label="chance")
        if report["mean"][key]["value"] is not None:
            axes.axvline(report["mean"][key]["value"], color="tab:red", linestyle="--", label="mean of folds")
        axes.set_yticks(positions, [f"without {g}" for g in names], fontsize=8)
        axes.set_xlim(0, 1)
        axes.set_xlabel(title)
        axes.legend(loc="lower right", fontsize=7)
    figure.suptitle(
        f"Leave one generator out, {Path(report['dataset']).name}: tested on the held-out generator + human test images"
    )
    return save_figure(figure, path)
