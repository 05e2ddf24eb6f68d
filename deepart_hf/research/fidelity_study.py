"""The fidelity study: the work of ``deepart-hf fidelity`` (its arguments and description: ``fidelity_command.py``)."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..cards import markdown_table
from ..constants import AI, HUMAN, ID2LABEL
from ..data.images import decode_image
from ..errors import DeepArtError
from ..files import atomic_destination, write_json
from . import plots
from .data import ImageCollection, ImageRef, read_collection
from .fidelity import FEATURES, FORMAT_CONTROL_QUALITY, SPECTRUM_FREQUENCIES, VARIANTS, ImageFeatures, extract_features
from .statistics import ALPHA, N_BOOTSTRAP, holm, paired_comparison, unpaired_comparison

STORED, CONTROL = VARIANTS
TOP_FEATURES = 4  # features shown in the slope plots
GALLERY_PAIRS = 4  # pairs per gallery row
RESULT_FILE = "fidelity.json"


def main(args: argparse.Namespace) -> int:
    splits = [s.strip() for s in args.splits.split(",") if s.strip()] if args.splits else None
    result = run_fidelity(
        args.dataset,
        args.output_dir,
        config=args.config,
        splits=splits,
        workers=args.workers,
        n_bootstrap=args.bootstrap,
        overwrite=args.overwrite,
        command=args.command_line,
    )
    top = result["ranking"][:3]
    print(
        f"{result['design']} comparison of {result['n_images']} images; largest effects: "
        + ", ".join(f"{name} (r = {result['comparisons'][STORED][name]['effect']['value']:+.2f})" for name in top)
    )
    print(f"Wrote {RESULT_FILE}, features.csv, report.md and figures to {args.output_dir}")
    return 0


def check_output_dir(output_dir: str | Path, result_file: str, overwrite: bool) -> Path:
    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        raise DeepArtError(f"--output_dir {out} exists and is not a folder")
    if (out / result_file).exists() and not overwrite:
        raise DeepArtError(
            f"{out} already holds {result_file}; pass --overwrite to replace it, or choose another --output_dir"
        )
    out.mkdir(parents=True, exist_ok=True)
    return out


def feature_matrix(measured: list[ImageFeatures], variant: str) -> dict[str, np.ndarray]:
    return {name: np.array([item.features[variant][name] for item in measured]) for name in FEATURES}


def compare(
    collection: ImageCollection, measured: list[ImageFeatures], variant: str, n_bootstrap: int
) -> dict[str, dict]:
    """{feature: comparison} for one variant, with Holm-adjusted p-values across the features."""
    values = feature_matrix(measured, variant)
    index = {id(image): position for position, image in enumerate(collection.images)}
    results = {}
    if collection.paired:
        pairs = collection.pairs()
        human_rows = [index[id(human)] for human, _ in pairs]
        ai_rows = [index[id(ai)] for _, ai in pairs]
        for name, column in values.items():
            results[name] = paired_comparison(column[human_rows], column[ai_rows], n_bootstrap=n_bootstrap)
    else:
        labels = np.array([image.label for image in collection.images])
        for name, column in values.items():
            results[name] = unpaired_comparison(column[labels == HUMAN], column[labels == AI], n_bootstrap=n_bootstrap)
    adjusted = holm([results[name]["p_value"] for name in FEATURES])
    for name, p_holm in zip(FEATURES, adjusted):
        results[name]["p_holm"] = float(p_holm)
        results[name]["significant"] = bool(p_holm < ALPHA)
    return results


def ranking_key(comparison: dict) -> tuple[float, float]:
    """Largest |rank-biserial r| first; among equal ones, the larger standardized difference (paired) or
    Wasserstein distance (unpaired)."""
    spread = comparison.get("standardized_difference", comparison.get("wasserstein_sd", 0.0))
    return (-round(abs(comparison["effect"]["value"]), 6), -abs(spread))


def format_control(comparisons: dict[str, dict[str, dict]]) -> dict[str, dict]:
    """A feature changes with format when, after re-encoding both classes as JPEG, its effect leaves the stored
    effect's 95% interval or its Holm verdict flips."""
    control = {}
    for name in FEATURES:
        stored, reencoded = comparisons[STORED][name], comparisons[CONTROL][name]
        outside = not (stored["effect"]["low"] <= reencoded["effect"]["value"] <= stored["effect"]["high"])
        flipped = stored["significant"] != reencoded["significant"]
        control[name] = {
            "stored_effect": stored["effect"]["value"],
            "jpeg_effect": reencoded["effect"]["value"],
            "effect_outside_interval": outside,
            "verdict_changed": flipped,
            "changes_with_format": outside or flipped,
        }
    return control


def write_features_csv(path: Path, collection: ImageCollection, measured: list[ImageFeatures]) -> Path:
    columns = [
        "image_id",
        "label",
        "group",
        "split",
        "file_format",
        *FEATURES,
        *(f"{name}@{CONTROL}" for name in FEATURES),
    ]
    with atomic_destination(path) as temporary, open(temporary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for image, item in zip(collection.images, measured):
            writer.writerow(
                [
                    image.image_id,
                    image.label_name,
                    image.group or "",
                    image.split,
                    image.file_format or "",
                    *(repr(item.features[STORED][name]) for name in FEATURES),
                    *(repr(item.features[CONTROL][name]) for name in FEATURES),
                ]
            )
    return path


def _interval(value: dict, digits: str = ".3g") -> str:
    return f"{value['value']:{digits}} [{value['low']:{digits}}, {value['high']:{digits}}]"


def report_markdown(result: dict) -> str:
    stored, control = result["comparisons"][STORED], result["format_control"]
    paired = result["design"] == "paired"
    header = ["rank", "feature", "human median", "ai median"]
    header += ["median difference (ai − human) [95% CI]"] if paired else ["KS", "Wasserstein (sd)"]
    header += ["d_z"] if paired else []
    header += ["rank-biserial r [95% CI]", "p (Holm)", f"r after JPEG q{FORMAT_CONTROL_QUALITY}", "changes with format"]
    rows = []
    for rank, name in enumerate(result["ranking"], 1):
        entry = stored[name]
        row = [rank, f"`{name}`", f"{entry['human_median']:.4g}", f"{entry['ai_median']:.4g}"]
        row += (
            [_interval(entry["median_difference"], ".3g")]
            if paired
            else [f"{entry['ks_statistic']:.2f}", f"{entry['wasserstein_sd']:.2f}"]
        )
        row += [f"{entry['standardized_difference']:+.2f}"] if paired else []
        row += [
            _interval(entry["effect"], "+.2f"),
            f"{entry['p_holm']:.2g}" + (" *" if entry["significant"] else ""),
            f"{control[name]['jpeg_effect']:+.2f}",
            "**yes**" if control[name]["changes_with_format"] else "no",
        ]
        rows.append(row)
    test = (
        (
            "Wilcoxon signed-rank test on the per-pair differences (AI − human); effect: matched-pairs rank-biserial "
            "correlation (+1: every re-creation higher, −1: every one lower); d_z: mean difference over the standard deviation of the differences"
        )
        if paired
        else (
            "Mann–Whitney U test; effect: rank-biserial correlation 2·P(ai > human) − 1 (= 2·AUROC − 1 of the feature as a score); "
            "KS statistic and Wasserstein distance in pooled standard deviations"
        )
    )
    lines = [
        "# Fidelity features: human vs AI",
        "",
        f"Dataset `{result['dataset']}`"
        + (f" (configuration `{result['config']}`)" if result["config"] else "")
        + f", splits {', '.join(result['splits'])}: {result['n_images']} images"
        + (f", {result['n_pairs']} pairs." if paired else f" ({result['n_human']} human, {result['n_ai']} ai)."),
        "",
        f"{test}. p-values Holm-adjusted over the {len(FEATURES)} features (* below {ALPHA}); 95% intervals from "
        f"{result['n_bootstrap']} bootstrap resamples. Features ranked by |r|. *Changes with format*: after re-encoding "
        f"every image identically as JPEG q{FORMAT_CONTROL_QUALITY}, the effect leaves the stored effect's interval or "
        "its significance flips, so the stored difference may be partly the file format (DeepArt's human paintings are PNG, "
        "its re-creations JPEG).",
        "",
        markdown_table(header, rows),
        "",
        "## Definitions",
        "",
        *(f"- `{name}`: {definition}" for name, definition in FEATURES.items()),
        "",
        "## Figures",
        "",
        *(f"![{title}]({file})" for title, file in result["figures"].items()),
        "",
    ]
    if result.get("command"):
        lines += ["## Command", "", "```", result["command"], "```", ""]
    return "\n".join(lines)


def _gallery(collection: ImageCollection, measured: list[ImageFeatures], feature: str, path: Path) -> Path:
    values = feature_matrix(measured, STORED)[feature]
    index = {id(image): position for position, image in enumerate(collection.images)}
    pairs = collection.pairs()
    differences = np.array([values[index[id(ai)]] - values[index[id(human)]] for human, ai in pairs])
    order = np.argsort(np.abs(differences), kind="stable")
    count = min(GALLERY_PAIRS, len(pairs))

    def shown(positions) -> list[dict]:
        chosen = []
        for position in positions:
            human, ai = pairs[position]
            chosen.append(
                {
                    "group": human.group,
                    "human": decode_image(human.value),
                    "ai": decode_image(ai.value),
                    "human_value": values[index[id(human)]],
                    "ai_value": values[index[id(ai)]],
                }
            )
        return chosen

    rows = {"differ most": shown(order[::-1][:count]), "differ least": shown(order[:count])}
    return plots.plot_pair_gallery(rows, feature, path)


def run_fidelity(
    dataset: str,
    output_dir: str | Path,
    *,
    config: str | None = None,
    splits: list[str] | None = None,
    workers: int = 2,
    n_bootstrap: int = N_BOOTSTRAP,
    overwrite: bool = False,
    command: str | None = None,
) -> dict:
    """The whole study from Python; returns what fidelity.json holds."""
    out = check_output_dir(output_dir, RESULT_FILE, overwrite)
    collection = read_collection(dataset, config, splits)
    if collection.paired and len(collection.pairs()) < 2:
        raise DeepArtError(
            f"{collection.where}: a paired comparison needs at least 2 pairs, found {len(collection.pairs())}"
        )
    images: list[ImageRef] = collection.images
    measured = extract_features((image.value for image in images), total=len(images), workers=workers)
    comparisons = {
        variant: compare(collection, measured, variant, n_bootstrap)
        for variant in tqdm(VARIANTS, desc="statistics", leave=False)
    }
    stored = comparisons[STORED]
    ranking = sorted(FEATURES, key=lambda name: ranking_key(stored[name]))

    labels = np.array([image.label for image in images])
    spectra = np.log10(np.stack([item.spectrum for item in measured]) + 1e-20)
    log_spectra = {label: spectra[labels == label] for label in (HUMAN, AI)}
    figures = {"mean radial power spectra": "spectra.png"}
    plots.plot_mean_spectra(SPECTRUM_FREQUENCIES, log_spectra, out / "spectra.png")
    top = ranking[:TOP_FEATURES]
    effects = {name: stored[name]["effect"]["value"] for name in top}
    values = feature_matrix(measured, STORED)
    if collection.paired:
        index = {id(image): position for position, image in enumerate(images)}
        pairs = collection.pairs()
        paired_values = {
            name: (values[name][[index[id(h)] for h, _ in pairs]], values[name][[index[id(a)] for _, a in pairs]])
            for name in top
        }
        plots.plot_paired_slopes(paired_values, effects, out / "paired_slopes.png")
        _gallery(collection, measured, ranking[0], out / "gallery.png")
        figures = {
            "paired slopes of the top features": "paired_slopes.png",
            **figures,
            f"pairs that differ most and least in {ranking[0]}": "gallery.png",
        }
    else:
        plots.plot_class_distributions(
            {name: (values[name][labels == HUMAN], values[name][labels == AI]) for name in top},
            effects,
            out / "distributions.png",
        )
        figures = {"distributions of the top features": "distributions.png", **figures}

    write_features_csv(out / "features.csv", collection, measured)
    result = {
        "dataset": dataset,
        "config": config,
        "splits": sorted({image.split for image in images}),
        "design": "paired" if collection.paired else "unpaired",
        "n_images": len(images),
        "n_human": int(np.sum(labels == HUMAN)),
        "n_ai": int(np.sum(labels == AI)),
        "n_pairs": len(collection.pairs()) if collection.paired else None,
        "n_bootstrap": n_bootstrap,
        "alpha": ALPHA,
        "features": FEATURES,
        "variants": {STORED: "the image as stored", CONTROL: f"re-encoded as JPEG quality {FORMAT_CONTROL_QUALITY}"},
        "ranking": ranking,
        "comparisons": comparisons,
        "format_control": format_control(comparisons),
        "spectra": {
            "frequencies": SPECTRUM_FREQUENCIES,
            **{
                ID2LABEL[label]: {"mean_log10": s.mean(axis=0), "sd_log10": s.std(axis=0)}
                for label, s in log_spectra.items()
            },
        },
        "figures": figures,
        "command": command,
    }
    with atomic_destination(out / "report.md") as temporary:
        temporary.write_text(report_markdown(result), encoding="utf-8")
    write_json(out / RESULT_FILE, result)  # last: its presence marks a finished study
    return result
