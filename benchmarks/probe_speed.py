"""A linear probe's run on features computed once against the old way (the frozen backbone run over every training
and validation image at every epoch), beside one forward pass over the run's images and the run's fixed cost.

The run is ``deepart-hf train --model efficientnet-lite0-linear --protocol deepart`` (224 px, 20 epochs of batch 8,
SGD) on the DeepArt sample built with its default 1:1:8 split, in this process, once with ``--feature_cache
false`` (the old way) and once with the default, back to back, ``--repeats`` times. Stages are timed by wrapping
the functions that do them (``fixed_cost.py``'s timer):

* ``feature pass``: computing the cached features (training views and validation images; the new way only);
* ``Trainer.train``: the epochs (the whole model's forward every epoch the old way, the head on cached features
  the new way, its per-epoch evaluation included), less ``checkpoints``: the whole model, optimizer and state
  saved after every epoch, as in any run;
* ``test predictions`` and ``calibration``: the run's passes over the test and validation images after training
  (on cached features, calibration reads the head's logits on the cached validation features instead);
* ``familiarity``: the features of the training and validation images stored beside the model, fitted and saved
  (taken from the cached features where they are the evaluation transform's, else another pass over the images);
* ``test familiarity``: the validity report's pass over the test images for their familiarity (none when the test
  predictions recorded their features);
* ``fixed``: the rest of the ``train`` call (loading and pre-resizing the data, building the model and the
  Trainer, saving the model, report, card), the same for both ways.

``backbone images``: how many images the run put through the backbone (its first convolution's batches, summed),
against the 80 of one pass: a count no load changes.

``one forward pass`` is timed on its own, right before each run: the probe's features of every training,
validation and test image once (``compute_features``, fp32, batch 8). The goal: a run on cached features takes at
most 1.3 x (one forward pass + fixed). The interpreter's start and the imports are not in any figure (they are in
``fixed_cost.py``'s).

    python benchmarks/probe_speed.py [--repeats 1] [--ways old,cached] [--threads N] [--robustness none]

Prints a table and saves benchmarks/results/probe_speed.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
from calibration_sample_size import machine
from fixed_cost import StageTimer

import deepart_hf
from deepart_hf.evaluation import suite
from deepart_hf.files import write_json
from deepart_hf.training import cached_probe, run
from deepart_hf.training.arguments import cpu_bf16_supported, parse_arguments
from deepart_hf.training.task import Task

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent.parent / "shared" / "data" / "deepart"
MODEL = "efficientnet-lite0-linear"
# stage name -> (owner, function) wrapped; the inner ones are taken out of the outer ones
STAGES = {
    "training": (run, "train_model"),
    "feature pass": (cached_probe, "compute_features"),
    "Trainer.train": (run.DetectorTrainer, "train"),
    "checkpoints": (run.DetectorTrainer, "_save_checkpoint"),
    "test predictions": (run.DetectorTrainer, "predict"),
    "calibration": (run, "calibrate"),
    "familiarity": (run, "store_familiarity"),
    "test familiarity": (suite, "scored_split"),
}


def flags(dataset: Path, out: Path, args) -> list[str]:
    return [
        "--dataset",
        str(dataset),
        "--model",
        MODEL,
        "--protocol",
        "deepart",
        "--output_dir",
        str(out),
        "--robustness",
        args.robustness,
        *(["--dataloader_num_workers", str(args.workers)] if args.workers is not None else []),
    ]


def one_forward_pass(dataset: Path, work: Path, args) -> dict:
    """The probe's features of every image of the run's three splits, once: the run's own data preparation
    (pre-resized images), model and batch size, fp32."""
    config = parse_arguments([*flags(dataset, work / "forward", args)])
    model, processor = run.build_model(config, Task())
    splits = run.prepare_data(config, processor, Task())
    model.eval()
    seconds, images = {}, {}
    for name, split in (("train", splits.train), ("validation", splits.evaluation), ("test", splits.test)):
        started = time.perf_counter()
        features, _ = cached_probe.compute_features(model, split, config.training, f"one pass: {name}")
        seconds[name], images[name] = time.perf_counter() - started, len(features)
    return {"seconds": seconds, "images": images, "total_s": sum(seconds.values())}


def counting_images(build_model, images: list[int]):
    """``run.build_model`` whose model counts the images its backbone's first convolution receives: how many
    images the run puts through the backbone, whatever the load."""

    def build(*args, **kwargs):
        model, processor = build_model(*args, **kwargs)
        stem = next(module for module in model.modules() if isinstance(module, torch.nn.Conv2d))
        stem.register_forward_pre_hook(lambda _module, inputs: images.append(len(inputs[0])))
        return model, processor

    return build


def timed_run(dataset: Path, out: Path, feature_cache: bool, args) -> dict:
    timer = StageTimer()
    originals = {stage: getattr(owner, name) for stage, (owner, name) in STAGES.items()}
    for stage, (owner, name) in STAGES.items():
        timer.wrap(owner, name, stage)
    build_model, images = run.build_model, []
    run.build_model = counting_images(build_model, images)
    load_before = os.getloadavg()
    try:
        config = parse_arguments([*flags(dataset, out, args), "--feature_cache", str(feature_cache).lower()])
        started = time.perf_counter()
        result = deepart_hf.train(config)
        total = time.perf_counter() - started
    finally:
        run.build_model = build_model
        for stage, (owner, name) in STAGES.items():
            setattr(owner, name, originals[stage])
    stages = {stage: round(timer.wall.get(stage, 0.0), 2) for stage in STAGES}
    # what is neither a pass over images nor an epoch: train_model's own part (building the Trainer, saving) too
    passes = sum(timer.wall.get(stage, 0.0) for stage in STAGES if stage != "training")
    stages["fixed"] = round(total - passes, 2)
    return {
        "feature_cache": feature_cache,
        "total_s": round(total, 2),
        "stages_s": stages,
        "backbone_images": sum(images),
        "test_mean_accuracy": result.metrics.get("mean_accuracy"),
        "test_auroc": result.metrics.get("auroc"),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def summarise(results: dict) -> None:
    """Print the table; add each run's ratio to one forward pass + its fixed cost, counted two ways: strictly
    (``fixed``: no pass over images) and as ``fixed_cost.py`` counts it (everything but the training)."""
    shown = [stage for stage in STAGES if stage != "training"] + ["fixed"]
    print(
        f"| way | total s | {' | '.join(shown)} | one forward pass | ratio (strict) | ratio (fixed_cost.py) "
        "| backbone images | load |"
    )
    print("| --- " * (len(shown) + 7) + "|")
    for entry in results["runs"]:
        forward = entry["one_forward_pass"]["total_s"]
        stages = entry["stages_s"]
        training = sum(stages.get(stage, 0.0) for stage in ("training", "feature pass", "Trainer.train", "checkpoints"))
        entry["ratio_to_one_pass_plus_fixed"] = round(entry["total_s"] / (forward + stages["fixed"]), 2)
        entry["ratio_fixed_cost_py"] = round(entry["total_s"] / (forward + entry["total_s"] - training), 2)
        print(
            f"| {'cached features' if entry['feature_cache'] else 'old way'} | {entry['total_s']:.1f} | "
            + " | ".join(f"{stages.get(stage, 0.0):.1f}" for stage in shown)
            + f" | {forward:.1f} | {entry['ratio_to_one_pass_plus_fixed']:.2f} | {entry['ratio_fixed_cost_py']:.2f} | "
            f"{entry.get('backbone_images', '?')} | {entry['load_average_before'][0]:.1f} -> {entry['load_average_after'][0]:.1f} |"
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", default=str(SAMPLE), help="the DeepArt sample (Human/, Aigc/)")
    parser.add_argument("--repeats", type=int, default=1, help="old and new way, back to back, this many times")
    parser.add_argument(
        "--ways", default="old,cached", help="which runs, in this order: old (--feature_cache false), cached"
    )
    parser.add_argument("--robustness", default="none", help="the validity report's perturbations (fixed cost)")
    parser.add_argument("--workers", type=int, help="--dataloader_num_workers of every run (default: the run's own)")
    parser.add_argument(
        "--threads", type=int, help="torch's CPU threads (default: its own); one is steadier on a busy machine"
    )
    parser.add_argument("--out", default=str(HERE / "results" / "probe_speed.json"))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    results = {
        "command": "python benchmarks/probe_speed.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": {**machine(), "native_bf16": cpu_bf16_supported(), "threads": torch.get_num_threads()},
        "runs": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        dataset = work / "deepart"
        deepart_hf.publish(deepart_hf.build("deepart", Path(args.sample)), dataset)
        for repeat in range(args.repeats):
            for feature_cache in (way == "cached" for way in args.ways.split(",")):
                name = f"{'cached' if feature_cache else 'old'}-{repeat}"
                # each run beside its own forward pass: on a shared machine one pass moved by 2x within minutes
                load = os.getloadavg()
                forward = {**one_forward_pass(dataset, work, args), "load_average_before": [round(x, 2) for x in load]}
                results["runs"].append(
                    {**timed_run(dataset, work / name, feature_cache, args), "one_forward_pass": forward}
                )
                write_json(Path(args.out), results)
    summarise(results)
    write_json(Path(args.out), results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
