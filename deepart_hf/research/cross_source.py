"""The cross-source matrix: the work of ``deepart-hf cross-eval`` (its arguments and description: ``cross_source_command.py``)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..cards import markdown_table
from ..constants import N_RESAMPLES
from ..data.loading import checked_split, load_splits
from ..errors import DeepArtError
from ..evaluation.familiarity_report import auroc_cell, dataset_familiarity
from ..evaluation.intervals import metric_intervals
from ..evaluation.suite import interval_cell, scored_split
from ..files import atomic_destination, write_json
from ..training.model_card import LEAVE_ONE_OUT_KEY

HEATMAP_METRICS = (("mean_accuracy", "mean accuracy"), ("auroc", "AUROC"))
# the familiarity figures of each pair: (title, the cell of a pair's familiarity section)
FAMILIARITY_TABLES = (
    ("share of images flagged unfamiliar", lambda section: interval_cell(section["unfamiliar"])),
    ("mean accuracy on all images", lambda section: interval_cell(section["all"]["mean_accuracy"])),
    (
        "mean accuracy on the familiar images only (selective accuracy; coverage in brackets after it)",
        lambda section: (
            f"{interval_cell(section['familiar']['mean_accuracy'])} ({section['coverage']['value'] * 100:.0f}% covered)"
            if section["n"]
            else "n/a"
        ),
    ),
    ("familiarity AUROC against the model's own test split", auroc_cell),
)


def source_name(spec: str) -> str:
    path, _, config = spec.partition("@") if "@" in spec and not Path(spec).exists() else (spec, "", "")
    return Path(path.rstrip("/")).name + (f"@{config}" if config else "")


def training_sets(sources: list[str], leave_one_out: bool) -> list[tuple[str, list[str]]]:
    """(name, sources) of every model to train: each source alone, then all but one."""
    sets = [(source_name(s), [s]) for s in sources]
    if leave_one_out and len(sources) > 2:
        sets += [(f"all-but-{source_name(left_out)}", [s for s in sources if s != left_out]) for left_out in sources]
    return sets


def main(args: argparse.Namespace, extra: list[str] | None = None) -> int:
    from ..training.arguments import parse_arguments

    sources = [part.strip() for value in args.dataset for part in value.split(",") if part.strip()]
    if args.leave_one_generator_out and len(sources) != 1:
        raise DeepArtError("--leave_one_generator_out takes one --dataset, with a generator column")
    if not args.leave_one_generator_out and len(sources) < 2:
        raise DeepArtError("cross-eval needs at least two --dataset values (or one with --leave_one_generator_out)")
    flags = list(extra or [])
    for forbidden in ("--dataset", "--output_dir", "--eval_only"):
        if any(flag == forbidden or flag.startswith(forbidden + "=") for flag in flags):
            raise DeepArtError(f"cross-eval sets {forbidden} itself; remove it from the train.py flags")
    # the dataset and folder are placeholders, replaced for every run
    config = parse_arguments([*flags, "--dataset", sources[0], "--output_dir", args.output_dir])
    if args.leave_one_generator_out:
        from .generator_folds import generator_folds_markdown, leave_one_generator_out

        folds = leave_one_generator_out(
            sources[0], args.output_dir, config, human_split=args.human_split, seed=args.split_seed,
            n_resamples=args.n_resamples,
        )  # fmt: skip
        print(generator_folds_markdown(folds))
        print(f"Wrote cross_source.json, cross_source.md, cross_source.png to {args.output_dir}")
        return 0
    report = cross_source(
        sources, args.output_dir, config, leave_one_out=args.leave_one_out, n_resamples=args.n_resamples
    )
    print(cross_source_markdown(report))
    print(f"Wrote cross_source.json, cross_source.md, cross_source.png to {args.output_dir}")
    if report.get(LEAVE_ONE_OUT_KEY):
        print(
            "A general detector: train on every source, with these figures in its card:\n  "
            f"{report['train_command']} --cross_source_report {Path(args.output_dir) / 'cross_source.json'}"
        )
    return 0


def cross_source(
    sources: list[str], output_dir, config, *, leave_one_out: bool = False, n_resamples: int = N_RESAMPLES
) -> dict:
    """Train ``config`` on each training set of ``sources`` (its dataset and folder replaced, without the
    robustness checks) and test every model on every source; returns what cross_source.json holds."""
    from ..inference.detector import load_detector
    from ..training.config import config_command, dataset_and_config
    from ..training.run import finished_run, train

    out = Path(output_dir)
    if (out / "cross_source.json").exists():
        raise DeepArtError(f"{out} already holds a cross-source report; choose another --output_dir")
    tests = {}
    for spec in sources:
        dataset, dataset_config = dataset_and_config(spec)
        tests[source_name(spec)] = checked_split(load_splits(dataset, dataset_config), "test", f"dataset {spec}")

    cells: dict[str, dict[str, dict]] = {}
    familiarity: dict[str, dict[str, dict]] = {}
    for name, training in training_sets(sources, leave_one_out):
        run_dir = out / f"train-{name}"
        run_config = config.with_changes(
            data={"dataset": ",".join(training)}, run={"robustness": "none"}, training={"output_dir": str(run_dir)}
        )
        finished_run(run_config) or train(run_config)
        detector = load_detector(run_dir)
        cells[name], familiarity[name] = {}, {}
        threshold = detector.calibration.threshold_log_odds
        for test_name, split in tests.items():
            scored = scored_split(detector, split, (), description=f"{name} -> {test_name}", distances=True)
            cells[name][test_name] = metric_intervals(
                scored.labels, scored.clean, threshold_log_odds=threshold, n_resamples=n_resamples
            )
            # against the run's own test split, which the training run saved beside the model
            familiarity[name][test_name] = dataset_familiarity(
                detector.familiarity,
                scored.distances,
                scored.labels,
                scored.clean,
                threshold_log_odds=threshold,
                model_folder=run_dir,
                ids=scored.ids,
                n_resamples=n_resamples,
            )
    all_sources = config.with_changes(
        data={"dataset": ",".join(sources)}, training={"output_dir": str(out / "train-all-sources")}
    )
    report = {
        "sources": list(tests),
        "trained_on": list(cells),
        "cells": cells,
        "familiarity": familiarity,
        "train_command": config_command(all_sources),
        # Where each source is, as a run on all of them records its datasets: --cross_source_report checks it.
        "locations": dict(zip(tests, all_sources.dataset_location.split(","))),
    }
    loo = {
        source_name(next(s for s in sources if s not in training)): (name, training)
        for name, training in training_sets(sources, leave_one_out)
        if len(training) > 1
    }
    if loo:
        report[LEAVE_ONE_OUT_KEY] = {
            left_out: {"trained_on": [source_name(s) for s in training], "metrics": cells[name][left_out]}
            for left_out, (name, training) in loo.items()
        }
    write_json(out / "cross_source.json", report)
    with atomic_destination(out / "cross_source.md") as temporary:
        temporary.write_text(cross_source_markdown(report), encoding="utf-8")
    plot_cross_source(report, out / "cross_source.png")
    return report


def cross_source_markdown(report: dict) -> str:
    sections = []
    for key, title in HEATMAP_METRICS:
        rows = [
            [
                f"trained on {trained}",
                *(interval_cell(report["cells"][trained][test][key]) for test in report["sources"]),
            ]
            for trained in report["trained_on"]
        ]
        sections += [
            f"### {title} (%, 95% interval), rows: training source, columns: test split",
            "",
            markdown_table(["", *report["sources"]], rows),
            "",
        ]
    return "\n".join(sections + familiarity_sections(report))


def familiarity_sections(report: dict) -> list[str]:
    """The familiarity tables of the matrix, for the models that carry familiarity data; a line for the others."""
    familiarity = report.get("familiarity")
    if not familiarity:  # a matrix measured before familiarity existed
        return []
    measured = [t for t in report["trained_on"] if not any("note" in cell for cell in familiarity[t].values())]
    sections = [
        f"Familiarity, trained on {trained}: {next(iter(familiarity[trained].values()))['note']}"
        for trained in report["trained_on"]
        if trained not in measured
    ]
    sections += [""] if sections else []
    for title, cell in FAMILIARITY_TABLES if measured else ():
        rows = [
            [f"trained on {trained}", *(cell(familiarity[trained][test]) for test in report["sources"])]
            for trained in measured
        ]
        sections += [
            f"### Familiarity: {title} (%, 95% interval), rows: training source, columns: test split",
            "",
            markdown_table(["", *report["sources"]], rows),
            "",
        ]
    return sections


def interval_text(entry: dict | None) -> tuple[float, str]:
    """A heat-map cell: its value (NaN when undefined) and its text, the value over its interval."""
    if not entry or entry.get("value") is None:
        return np.nan, "n/a"
    return entry["value"], f"{entry['value']:.2f}\n[{entry['low']:.2f}, {entry['high']:.2f}]"


def heatmap_panels(report: dict) -> list[tuple[str, str, object]]:
    """(title, colour map, cell(trained, test) -> (value, text)) of every heat map: the metrics, then, when the
    models carry familiarity data, the share flagged and the familiarity AUROC."""
    panels = [
        (title, "RdYlGn", lambda t, s, key=key: interval_text(report["cells"][t][s][key]))
        for key, title in HEATMAP_METRICS
    ]
    familiarity = report.get("familiarity") or {}
    if any("note" not in cell for row in familiarity.values() for cell in row.values()):

        def flagged(t, s):
            return interval_text(familiarity[t][s].get("unfamiliar"))

        def auroc(t, s):
            cell = familiarity[t][s]
            return (np.nan, "own test\nsplit") if cell.get("own_test_split") else interval_text(cell.get("auroc"))

        panels += [("share flagged unfamiliar", "Purples", flagged), ("familiarity AUROC", "Purples", auroc)]
    return panels


def plot_cross_source(report: dict, path) -> Path:
    from matplotlib.figure import Figure

    from ..evaluation.plots import save_figure

    panels = heatmap_panels(report)
    columns = len(HEATMAP_METRICS)
    rows = -(-len(panels) // columns)
    figure = Figure(figsize=(5 * columns, rows * (1.2 + 0.6 * len(report["trained_on"]))), layout="constrained")
    for index, (title, colours, cell) in enumerate(panels):
        axes = figure.add_subplot(rows, columns, index + 1)
        cells = [[cell(t, s) for s in report["sources"]] for t in report["trained_on"]]
        values = np.array([[value for value, _ in row] for row in cells], dtype=float)
        image = axes.imshow(values, cmap=colours, vmin=0.0, vmax=1.0, aspect="auto")
        for row, texts in enumerate(cells):
            for column, (value, text) in enumerate(texts):
                red, green, blue, _ = image.cmap(image.norm(value)) if np.isfinite(value) else (1, 1, 1, 1)
                dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5  # white text where the cell is dark
                axes.text(column, row, text, ha="center", va="center", fontsize=7, color="white" if dark else "black")
        axes.set_xticks(range(len(report["sources"])), report["sources"], rotation=30, ha="right", fontsize=8)
        axes.set_yticks(range(len(report["trained_on"])), report["trained_on"], fontsize=8)
        axes.set_xlabel("test split")
        axes.set_ylabel("trained on")
        axes.set_title(title)
        figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    return save_figure(figure, path)
