"""What a CUDA GPU does with the project's training and prediction paths: fp32 against bf16, the model alone
against the whole Trainer run, and ``predict`` at several batch sizes.

Four parts, each on the synthetic set built at 256 px (nothing is downloaded; models from scratch, or
EfficientNet-Lite0 from the weights its package ships when installed):

* ``steps``: images/s of training steps (forward, backward, SGD step) and of inference on one repeated batch:
  the model alone, fp32 and bf16 autocast, channels_last for CNNs;
* ``train``: whole ``deepart_hf.train(config)`` runs (data pipeline, Trainer, per-epoch validation,
  calibration, test report) in fp32 and in bf16, timed end to end, and the Trainer's own training images/s,
  against the model-alone figure: what the pipeline around the model costs on a GPU;
* ``predict``: ``Detector.predict_rows`` on image files (decode, preprocess in threads, score) at batch sizes
  16, 64 and 256, against the model's own inference rate;
* ``accelerate``: ``accelerate launch train.py`` for one epoch on the GPU, its exit status and time.

    python benchmarks/gpu_throughput.py                      # all parts (about 4 minutes on one H200)
    python benchmarks/gpu_throughput.py --device cpu --quick # a dry run of every part on a CPU

Prints each figure as it is measured and saves JSON under benchmarks/results/ (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from deepart_hf.data.loading import ensure_synthetic  # noqa: E402
from deepart_hf.data.sources.synthetic import render_painting  # noqa: E402
from deepart_hf.inference.detector import load_detector  # noqa: E402
from deepart_hf.models import create_model  # noqa: E402
from deepart_hf.training.arguments import parse_arguments  # noqa: E402
from deepart_hf.training.run import train  # noqa: E402


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_rates(name: str, device: torch.device, batch: int, size: int, steps: int, bf16: bool) -> dict:
    """Training and inference images/s of the model alone on one repeated random batch."""
    torch.manual_seed(0)
    model, _ = create_model(name, from_scratch=True, image_size=size)
    model.to(device)
    cnn = "vit" not in name
    if cnn:
        model.to(memory_format=torch.channels_last)
    pixels = torch.randn(batch, 3, size, size, device=device)
    if cnn:
        pixels = pixels.contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 2, (batch,), device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)

    def train_step():
        with autocast:
            loss = model(pixel_values=pixels, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def infer_step():
        with torch.inference_mode(), autocast:
            model(pixel_values=pixels)

    rates = {}
    for what, step in (("train", train_step), ("inference", infer_step)):
        model.train(what == "train")
        for _ in range(3):  # warm-up: kernels chosen, memory allocated
            step()
        synchronize(device)
        start = time.perf_counter()
        for _ in range(steps):
            step()
        synchronize(device)
        rates[f"{what}_images_per_s"] = round(steps * batch / (time.perf_counter() - start), 1)
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return rates


def train_run(out: Path, model: str, bf16: bool, quick: bool, extra: list[str]) -> dict:
    flags = [
        "--model", model, "--from_scratch",
        "--synthetic_n_per_class", "40" if quick else "1000",
        "--synthetic_image_size", "256",
        "--image_size", "64" if quick else "224",
        "--num_train_epochs", "1" if quick else "3",
        "--per_device_train_batch_size", "64",
        "--per_device_eval_batch_size", "128",
        "--learning_rate", "1e-3",
        "--output_dir", str(out),
        "--overwrite_output_dir",
        *(["--bf16", "true"] if bf16 else ["--bf16", "false"]),
        *extra,
    ]  # fmt: skip
    config = parse_arguments(flags)
    start = time.perf_counter()
    result = train(config)
    seconds = time.perf_counter() - start
    metrics = {k: v for k, v in result.metrics.items() if k.endswith(("mean_accuracy", "auroc"))}
    epochs, train_images = 1 if quick else 3, int(0.8 * 2 * (40 if quick else 1000))
    return {
        "model": model,
        "bf16": bf16,
        "flags": flags,
        "wall_s": round(seconds, 1),
        # every epoch's training images over the whole run's wall time: what the GPU delivers end to end
        "end_to_end_train_images_per_s": round(epochs * train_images / seconds, 1),
        "test_metrics": metrics,
    }


def write_images(folder: Path, count: int, size: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"painting-{index:04d}.png"
        Image.fromarray(render_painting(7, index, index % 2, size)).save(path)
        paths.append(path)
    return paths


def predict_rates(run: Path, images: list[Path], device: str, batch_sizes: list[int]) -> dict:
    rates = {}
    for batch_size in batch_sizes:
        detector = load_detector(run, device=device, batch_size=batch_size)
        detector.predict_rows(images[: 2 * batch_size])  # warm-up
        start = time.perf_counter()
        rows = detector.predict_rows(images)
        seconds = time.perf_counter() - start
        assert not any(row.failed for row in rows), [row.error for row in rows if row.failed][:3]
        rates[batch_size] = round(len(images) / seconds, 1)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a dry run of every part")
    parser.add_argument("--parts", default="steps,train,predict,accelerate")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "gpu_throughput.json")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("error: no CUDA device here; pass --device cpu for a dry run")
    parts = args.parts.split(",")
    figures: dict = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "quick": args.quick,
    }

    def save():
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2))

    size, batch, steps = (64, 8, 2) if args.quick else (224, 128, 20)
    if "steps" in parts:
        figures["steps"] = {}
        names = ["resnet10t"] if args.quick else ["resnet18", "resnet50", "efficientnet-lite0", "vit-base"]
        for name in names:
            for bf16 in (False, True):
                key = f"{name} {'bf16' if bf16 else 'fp32'}"
                figures["steps"][key] = step_rates(name, device, batch, size, steps, bf16)
                print(key, figures["steps"][key], flush=True)
                save()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run = tmp / "run-fp32"
        if {"train", "predict"} & set(parts):
            figures["train"] = []
            model = "resnet10t" if args.quick else "resnet18"
            # built (and its pixels cached) before any run is timed, so neither run pays for it
            start = time.perf_counter()
            ensure_synthetic(40 if args.quick else 1000, 256, 42)
            figures["synthetic_build_s"] = round(time.perf_counter() - start, 1)
            # an untimed run first: the pixel cache of the pre-resized split and the kernels' first use
            train_run(tmp / "run-warm-up", model, True, args.quick, [])
            for bf16 in (False, True):
                out = tmp / f"run-{'bf16' if bf16 else 'fp32'}"
                figures["train"].append(train_run(out, model, bf16, args.quick, []))
                print(figures["train"][-1], flush=True)
                save()
        if "predict" in parts:
            images = write_images(tmp / "images", 64 if args.quick else 2048, 256)
            figures["predict_images_per_s_by_batch"] = predict_rates(
                run, images, args.device, [8, 16] if args.quick else [16, 64, 256]
            )
            print("predict", figures["predict_images_per_s_by_batch"], flush=True)
            save()
        if "accelerate" in parts:
            command = [
                sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1",
                *(["--cpu"] if device.type == "cpu" else []),
                str(REPO / "train.py"), "--model", "resnet10t", "--from_scratch",
                "--num_train_epochs", "1", "--output_dir", str(tmp / "run-accelerate"),
                "--synthetic_n_per_class", "40" if args.quick else "200",
            ]  # fmt: skip
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
            figures["accelerate"] = {
                "command": " ".join(command[3:]),
                "returncode": done.returncode,
                "wall_s": round(time.perf_counter() - start, 1),
                "output_tail": (done.stdout + done.stderr)[-3000:],
            }
            print("accelerate", {k: v for k, v in figures["accelerate"].items() if k != "output_tail"}, flush=True)
            save()
    print(json.dumps({k: v for k, v in figures.items() if k != "accelerate"}, indent=2))
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
