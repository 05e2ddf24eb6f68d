"""What speeds a training step up on a CPU, in fp32 (the path of CPUs without native bf16) and bf16 autocast.

One ResNet-18 training step (from scratch, 224 pixels, batch 8, SGD as the ``deepart`` protocol) on a fixed
random batch, in a loop of ``--steps`` steps after ``--warmup`` untimed ones, for each variant: the standard
(contiguous) layout, channels_last (what ``train.py`` uses for CNNs), channels_last with torch's thread count
set to the cores, and ``torch.compile`` (its one-off compile time timed apart from its steps). bf16 autocast rows
run where the CPU reports native bf16 (AVX512-BF16 or AMX), the test ``train.py`` uses to choose its default.

    python benchmarks/cpu_speedups.py [--steps 20] [--variants contiguous,channels_last,compile]
    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 python benchmarks/cpu_speedups.py --variants \
        contiguous,channels_last --steps 10 --out benchmarks/results/cpu_speedups-avx2.json   # an AVX2-only CPU
    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 python benchmarks/cpu_speedups.py --variants \
        contiguous,channels_last --precisions bf16 --steps 3 --warmup 1 --out benchmarks/results/cpu_speedups-avx2-bf16.json

Prints a table and saves benchmarks/results/cpu_speedups.json (the CPU, its bf16 support and the load average
are recorded with the figures).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time
from pathlib import Path

import torch

from deepart_hf.files import write_json
from deepart_hf.models import create_model
from deepart_hf.training.arguments import cpu_bf16_supported

HERE = Path(__file__).resolve().parent
VARIANTS = ("contiguous", "channels_last", "compile")


def step_seconds(variant: str, bf16: bool, args) -> dict:
    torch.manual_seed(0)
    model, _ = create_model("resnet18", from_scratch=True, image_size=224)
    model.train()
    pixels = torch.randn(args.batch_size, 3, 224, 224)
    labels = torch.randint(0, 2, (args.batch_size,))
    if variant in ("channels_last", "compile"):
        model = model.to(memory_format=torch.channels_last)
        pixels = pixels.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)

    def forward_loss():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return model(pixel_values=pixels, labels=labels).loss

    run = torch.compile(forward_loss) if variant == "compile" else forward_loss
    compile_seconds = None
    if variant == "compile":
        begun = time.perf_counter()
        run().backward()  # the first call compiles forward and backward
        optimizer.step()
        optimizer.zero_grad()
        compile_seconds = time.perf_counter() - begun
    for _ in range(args.warmup):
        run().backward()
        optimizer.step()
        optimizer.zero_grad()
    seconds = []
    for _ in range(args.steps):
        begun = time.perf_counter()
        run().backward()
        optimizer.step()
        optimizer.zero_grad()
        seconds.append(time.perf_counter() - begun)
    median = sorted(seconds)[len(seconds) // 2]
    return {
        "variant": variant,
        "bf16": bf16,
        "median_step_s": median,
        "images_per_s": args.batch_size / median,
        "compile_s": compile_seconds,
        "steps": seconds,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--precisions", default="fp32,bf16", help="bf16 runs only where the CPU reports native bf16")
    parser.add_argument("--out", default=str(HERE / "results" / "cpu_speedups.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(os.cpu_count() or 1)

    native_bf16 = cpu_bf16_supported()
    load_before = os.getloadavg()
    results = []
    precisions = args.precisions.split(",")
    for bf16 in [p == "bf16" for p in precisions if p == "fp32" or native_bf16]:
        for variant in args.variants.split(","):
            results.append(step_seconds(variant, bf16, args))
            row = results[-1]
            compiled = f", compile {row['compile_s']:.1f} s" if row["compile_s"] is not None else ""
            print(f"{'bf16' if bf16 else 'fp32'} {variant}: {row['median_step_s']:.3f} s/step{compiled}", flush=True)
    base = {r["bf16"]: r["median_step_s"] for r in results if r["variant"] == "contiguous"}
    lines = ["| precision | variant | s per step (median) | images/s | vs contiguous | one-off compile |"]
    lines.append("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        compiled = f"{r['compile_s']:.1f} s" if r["compile_s"] is not None else "-"
        relative = f"{base[r['bf16']] / r['median_step_s']:.2f}x" if r["bf16"] in base else "-"
        lines.append(
            f"| {'bf16 autocast' if r['bf16'] else 'fp32'} | {r['variant']} | {r['median_step_s']:.3f} | "
            f"{r['images_per_s']:.1f} | {relative} | {compiled} |"
        )
    table = "\n".join(lines)
    print(table)
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    cpu = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line), "?")
    write_json(
        args.out,
        {
            "command": "python benchmarks/cpu_speedups.py " + " ".join(argv or []),
            "settings": {k: v for k, v in vars(args).items() if k != "out"},
            "machine": {
                "cpu": cpu,
                "cpus": os.cpu_count(),
                "native_bf16": native_bf16,
                "torch": torch.__version__,
                "platform": platform.platform(),
                # oneDNN's and ATen's instruction-set limits: set, they emulate an older CPU on this one
                "isa_limits": {
                    k: os.environ[k] for k in ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY") if k in os.environ
                },
                "load_average_before": load_before,
                "load_average_after": os.getloadavg(),
            },
            "results": results,
            "table": table,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
