"""Familiarity measured: does the distance to the training images tell another source's images from a detector's
own test split, and are the decisions on the images it keeps worth more?

Sources available offline, each split 5:1:4: the DeepArt sample, the genre-study sample (as <genre>/{ai,human}/,
without its duplicate ``mixed`` folder), a small synthetic set and the art-game half (500 artworks of many styles,
half from DALL-E, Midjourney and Stable Diffusion). For each detector,

    deepart-hf cross-eval --dataset deepart,genres,synthetic,art-game --output_dir OUT/<model> [flags]

trains one model per source and measures it on every source's test split: the share of images flagged unfamiliar,
the coverage, the mean accuracy on all images and on the familiar ones only (selective accuracy), and the
familiarity AUROC of each test split against the model's own test split. Detectors: the pretrained
EfficientNet-Lite0 linear probe (frozen ImageNet features: the features familiarity measures on are the
backbone's, whatever the head learns) at 224 pixels, and resnet10t trained from scratch at 64 pixels.

Then the case familiarity is not built for: a source that differs only in its generator. Each detector is trained
on the art-game half without one generator's images and measures that generator's images against its own test
split's AI images (``--generator``, ``--holdout_epochs``).

    python benchmarks/familiarity.py                  # ~1 hour on the shared 2-core CPU at load 9-21
    python benchmarks/familiarity.py --work DIR       # keeps sources and runs in DIR: a second sitting reuses them
    python benchmarks/familiarity.py --models resnet10t --epochs 1 --sources deepart,genres   # a quick look

Prints the tables and saves JSON (with each cross-eval's familiarity matrix) under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from calibration_sample_size import machine
from generalisation import SHARED, SPLIT_RATIO, build_sources
from tqdm.auto import tqdm

import deepart_hf
from deepart_hf.cli import main as deepart_hf_cli
from deepart_hf.evaluation.familiarity_report import familiarity_auroc, load_reference, share
from deepart_hf.evaluation.tables import interval_cell
from deepart_hf.files import write_json
from deepart_hf.inference.detector import load_detector
from deepart_hf.training.arguments import parse_arguments
from deepart_hf.training.run import finished_run, train

HERE = Path(__file__).resolve().parent
ART_GAME = SHARED / "art-game-half"
GENERATORS = ("dalle", "midjourney", "stable_diffusion")  # the art-game half's file-name prefixes

MODELS = {
    "efficientnet-lite0-linear": ["--model", "efficientnet-lite0-linear", "--image_size", "224"],
    "resnet10t": ["--model", "resnet10t", "--from_scratch", "--image_size", "64"],
}


def train_flags(model: str, args) -> list[str]:
    common = (
        f"--preprocess resize --num_train_epochs {args.epochs} --per_device_train_batch_size 16 "
        "--per_device_eval_batch_size 32 --optim adamw_torch --learning_rate 2e-3 --dataloader_num_workers 0 "
        f"--save_strategy no --seed {args.seed} --robustness none --n_resamples {args.n_resamples}"
    )
    return [*MODELS[model], *common.split()]


def art_game_without(generator: str, dest: Path) -> Path:
    """The art-game half without ``generator``'s images, as <label>/ folders for the folder source."""
    for folder in ("human", "ai"):
        (dest / folder).mkdir(parents=True, exist_ok=True)
        for image in sorted((ART_GAME / folder).iterdir()):
            if image.suffix.lower() == ".jpg" and not image.name.startswith(f"{generator}-"):
                os.symlink(image, dest / folder / image.name)
    return dest


def generator_holdout(model: str, generator: str, work: Path, args) -> dict:
    """Train on the art-game half without ``generator``; that generator's images against the own test split's AI
    images (familiarity AUROC, share flagged) and how many of them the detector calls AI-made."""
    data = work / f"art-game-without-{generator}"
    if not data.is_dir():  # one build for every model
        raw = art_game_without(generator, work / f"raw-without-{generator}")
        deepart_hf.publish(deepart_hf.build("folder", raw, split_ratio=SPLIT_RATIO), data)
    run = work / "holdout" / f"{model}-without-{generator}"
    config = parse_arguments(["--dataset", str(data), "--output_dir", str(run), *train_flags(model, args)])
    finished_run(config) or train(config)
    detector = load_detector(run, batch_size=32)
    held_out = sorted((ART_GAME / "ai").glob(f"{generator}-*.jpg"))
    distances = detector.familiarity.distances(detector.features(held_out))
    log_odds = detector.log_odds(held_out)
    reference = load_reference(run, detector.familiarity)
    own_ai = np.array([image_id.startswith("ai/") for image_id in reference.ids])
    flagged = int((~detector.familiarity.familiar(distances)).sum())
    return {
        "model": model,
        "held_out": generator,
        "n": len(held_out),
        "reference_ai_images": int(own_ai.sum()),
        "auroc_against_own_ai": familiarity_auroc(reference.distances[own_ai], distances, n_resamples=args.n_resamples),
        "auroc_against_own_test_split": familiarity_auroc(reference.distances, distances, n_resamples=args.n_resamples),
        "unfamiliar": share(flagged, len(held_out)),
        "called_ai": share(int((log_odds >= detector.calibration.threshold_log_odds).sum()), len(held_out)),
    }


def matrix_rows(model: str, report: dict) -> list[str]:
    rows = []
    for trained in report["trained_on"]:
        for test in report["sources"]:
            cell = report["familiarity"][trained][test]
            auroc = "own test split" if cell["own_test_split"] else interval_cell(cell["auroc"])
            rows.append(
                f"| {model} | {trained} | {test} | {cell['n']} | {interval_cell(cell['unfamiliar'])} | "
                f"{interval_cell(cell['all']['mean_accuracy'])} | {interval_cell(cell['familiar']['mean_accuracy'])} "
                f"({cell['familiar']['n']}) | {auroc} |"
            )
    return rows


def save(args, argv, started: float, before: dict, results: dict) -> None:
    """The JSON so far: a long run on a shared machine keeps what it measured."""
    write_json(
        args.out,
        {
            "command": " ".join(["python", "benchmarks/familiarity.py", *(argv if argv is not None else sys.argv[1:])]),
            "minutes": round((time.perf_counter() - started) / 60, 1),
            "machine": {**machine(), "load_average_before": before["load_average"]},
            "settings": vars(args),
            **results,
        },
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--sources", default="deepart,genres,synthetic,art-game")
    parser.add_argument("--generator", default="stable_diffusion", help="held out of the art-game half; 'none' skips")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--holdout_epochs", type=int, default=2, help="epochs of the generator hold-out runs")
    parser.add_argument("--work", help="a folder to keep the sources and runs in (reused when run again)")
    parser.add_argument("--synthetic_per_class", type=int, default=40)
    parser.add_argument("--n_resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default=str(HERE / "results" / "familiarity.json"))
    args = parser.parse_args(argv)
    models, sources = args.models.split(","), args.sources.split(",")
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    started, before = time.perf_counter(), machine()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    results = {"matrices": {}, "generator": []}
    with tempfile.TemporaryDirectory(prefix="familiarity-") as tmp:
        work = Path(args.work or tmp)
        missing = [s for s in sources if s != "art-game" and not (work / "data" / s).is_dir()]
        if missing:
            build_sources(work, missing, args.synthetic_per_class)
        folders = {source: work / "data" / source for source in sources}
        if "art-game" in sources and not folders["art-game"].is_dir():
            deepart_hf.publish(deepart_hf.build("folder", ART_GAME, split_ratio=SPLIT_RATIO), folders["art-game"])
        datasets = ",".join(str(folders[s]) for s in sources)
        for model in tqdm(models, desc="cross-eval"):
            out = work / "cross" / model
            if not (out / "cross_source.json").is_file():  # cross-eval reuses the finished runs of a --work folder
                assert deepart_hf_cli(["cross-eval", "--dataset", datasets, "--output_dir", str(out), *train_flags(model, args)]) == 0  # fmt: skip
            results["matrices"][model] = json.loads((out / "cross_source.json").read_text(encoding="utf-8"))
            shutil.copy(out / "cross_source.png", Path(args.out).with_name(f"familiarity-{model}.png"))
            save(args, argv, started, before, results)
        if args.generator != "none":
            holdout = argparse.Namespace(**{**vars(args), "epochs": args.holdout_epochs})
            for model in tqdm(models, desc=f"without {args.generator}"):
                results["generator"].append(generator_holdout(model, args.generator, work, holdout))
                save(args, argv, started, before, results)
    elapsed = time.perf_counter() - started

    lines = [
        "| model | trained on | tested on | n | flagged unfamiliar % | mean acc. %, all | mean acc. %, familiar (n) | familiarity AUROC % |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for model, report in results["matrices"].items():
        lines += matrix_rows(model, report)
    print("\n".join(lines))
    if results["generator"]:
        print(
            "\n| model | held out | n | AUROC % vs own test AI images | AUROC % vs own test split | flagged % | called AI % |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for row in results["generator"]:
            print(
                f"| {row['model']} | {row['held_out']} | {row['n']} | {interval_cell(row['auroc_against_own_ai'])} | "
                f"{interval_cell(row['auroc_against_own_test_split'])} | {interval_cell(row['unfamiliar'])} | "
                f"{interval_cell(row['called_ai'])} |"
            )
    print(f"{elapsed / 60:.1f} min; load average before {before['load_average']}, after {os.getloadavg()}")
    save(args, argv, started, before, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
