"""What a run costs besides its training steps, stage by stage, beside the standard Hugging Face recipe.

Each configuration runs as its own ``python`` process for ``--steps`` training steps (ResNet-18 from scratch,
resize 224, batch 8, on the DeepArt sample built 32/8/40), so the whole-process time includes the interpreter and
the imports as a user meets them:

* standard: the transformers image-classification example (``set_transform`` + ``RandomResizedCrop``, a default
  ``Trainer``, no evaluation), the pipeline of ``peer_comparison.py`` (benchmarks/standard_recipe.py);
* project: ``python train.py ... --robustness none`` with its defaults for this machine (bf16 autocast where the CPU
  has it), run twice: cold (the pre-resized images are built into the datasets cache) and warm (reused);
* project fp32: the same with ``--bf16 false``, the path of CPUs without bf16.

Stages are timed inside the process by wrapping the functions that do them (each stage's own time, its wrapped
sub-stages taken out); ``in-loop`` is ``Trainer.train`` and ``fixed`` is the whole process minus it. Wall seconds
and process CPU seconds are both saved: on a shared machine the CPU seconds move less with other jobs' load.

    python benchmarks/fixed_cost.py [--steps 1] [--runs standard,project-cold,project,project-fp32]
    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 python benchmarks/fixed_cost.py --runs standard,project-fp32
        # the kernels of a CPU without AVX-512 or AMX (no native bf16), emulated on this one

Prints a table and saves benchmarks/results/fixed_cost.json.
"""

from __future__ import annotations

import time

STARTED = time.time()  # before any import: the child's start, for the parent's whole-process figure

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
RUNS = ("standard", "project-cold", "project", "project-fp32")
IMPORTS = "interpreter start and imports"


class StageTimer:
    """Wraps functions; each call's wall and CPU time goes to its stage, minus the wrapped calls inside it."""

    def __init__(self):
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.stack: list[list[float]] = []  # per open call: [wall, cpu] spent in wrapped calls below it

    def add(self, stage: str, wall: float, cpu: float) -> None:
        self.wall[stage] = self.wall.get(stage, 0.0) + wall
        self.cpu[stage] = self.cpu.get(stage, 0.0) + cpu

    def wrap(self, owner, name: str, stage: str) -> None:
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            wall0, cpu0 = time.perf_counter(), time.process_time()
            self.stack.append([0.0, 0.0])
            try:
                return original(*args, **kwargs)
            finally:
                inner_wall, inner_cpu = self.stack.pop()
                wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
                self.add(stage, wall - inner_wall, cpu - inner_cpu)
                if self.stack:
                    self.stack[-1][0] += wall
                    self.stack[-1][1] += cpu

        setattr(owner, name, timed)


def child_project(options: argparse.Namespace, timer: StageTimer) -> None:
    sys.path.insert(0, str(HERE.parent))  # train.py, as `python train.py` runs it
    import train
    from deepart_hf.evaluation import suite
    from deepart_hf.training import arguments, report, run, trainer

    timer.add(IMPORTS, time.time() - STARTED, time.process_time())
    for owner, name, stage in (
        (arguments, "parse_arguments", "arguments"),
        (run, "train", "other (in run)"),
        (run, "build_model", "model"),
        (run, "prepare_data", "data: load, pre-resize"),
        (run, "claim_output_dir", "output folder"),
        (run, "train_model", "trainer set-up, save"),
        (trainer.DetectorTrainer, "train", "in-loop: Trainer.train"),
        (run, "calibrate", "calibration"),
        (report, "evaluate_and_report", "other (in report)"),
        (trainer.DetectorTrainer, "predict", "test predictions"),
        (report, "plot_confusion_matrix", "plots"),
        (report, "plot_roc_curve", "plots"),
        (report, "plot_training_curves", "plots"),
        (report, "validity_report", "intervals"),
        (suite, "per_dataset_metrics", "intervals"),
        (suite, "write_report", "validity report files, plots"),
        (report, "render_model_card", "model card"),
        (run, "write_run_demo", "demo files"),
    ):
        timer.wrap(owner, name, stage)
    argv = ["--dataset", options.dataset, "--model", "resnet18", "--from_scratch", "--preprocess", "resize",
            "--image_size", "224", "--per_device_train_batch_size", "8", "--max_steps", str(options.steps),
            "--robustness", "none", "--seed", "42", "--output_dir", options.output_dir, "--disable_tqdm", "true",
            *(["--bf16", "false"] if options.run == "project-fp32" else [])]  # fmt: skip
    assert train.main(argv) == 0


def child_standard(options: argparse.Namespace, timer: StageTimer) -> None:
    from standard_recipe import StandardTransform, standard_transforms
    from transformers import Trainer, TrainingArguments

    from deepart_hf.data.loading import load_splits
    from deepart_hf.models import create_model
    from deepart_hf.models.preprocessing import collate, processor_geometry
    from deepart_hf.training.protocols import get_protocol

    timer.add(IMPORTS, time.time() - STARTED, time.process_time())

    def data():
        splits = load_splits(options.dataset)
        return splits["train"]

    def model():
        return create_model("resnet18", from_scratch=True, image_size=224)

    def setup(model, processor, train_split):
        size, mean, std = processor_geometry(processor)
        train_split.set_transform(StandardTransform(standard_transforms("resize", size, list(mean), list(std))[0]))
        recipe = get_protocol("deepart").overrides()
        training = TrainingArguments(
            output_dir=options.output_dir, max_steps=options.steps, per_device_train_batch_size=8, seed=42,
            learning_rate=recipe["learning_rate"], optim=recipe["optim"], optim_args=recipe["optim_args"],
            weight_decay=recipe["weight_decay"], lr_scheduler_type=recipe["lr_scheduler_type"], eval_strategy="no",
            save_strategy="no", remove_unused_columns=False, report_to="none", disable_tqdm=True,
        )  # fmt: skip
        return Trainer(model=model, args=training, train_dataset=train_split, data_collator=collate)

    stages = {"data": data, "model": model, "setup": setup}
    for name, stage in (("data", "data: load, pre-resize"), ("model", "model"), ("setup", "trainer set-up, save")):
        holder = type("Holder", (), {"call": staticmethod(stages[name])})
        timer.wrap(holder, "call", stage)
        stages[name] = holder.call
    timer.wrap(Trainer, "train", "in-loop: Trainer.train")
    train_split = stages["data"]()
    model_, processor = stages["model"]()
    stages["setup"](model_, processor, train_split).train()


def run_child(run: str, dataset: str, steps: int, out: Path) -> dict:
    """One configuration as its own process; returns its stages and whole-process figures."""
    record = out / f"{run}.json"
    command = [sys.executable, __file__, "--child", run, "--dataset", dataset, "--steps", str(steps),
               "--output_dir", str(out / f"run-{run}"), "--record", str(record)]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    completed = subprocess.run(command, capture_output=True, text=True)
    wall = time.time() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise SystemExit(f"{run} failed:\n{completed.stderr[-4000:]}")
    stages = json.loads(record.read_text())
    stages["wall"][IMPORTS] += stages.pop("started") - start  # the interpreter's own start before the first line
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    in_loop = stages["wall"].get("in-loop: Trainer.train", 0.0)
    in_loop_cpu = stages["cpu"].get("in-loop: Trainer.train", 0.0)
    return {
        "whole_process_wall_s": round(wall, 2),
        "whole_process_cpu_s": round(cpu, 2),
        "in_loop_wall_s": round(in_loop, 2),
        "fixed_wall_s": round(wall - in_loop, 2),
        "fixed_cpu_s": round(cpu - in_loop_cpu, 2),
        "stages_wall_s": {k: round(v, 2) for k, v in stages["wall"].items()},
        "stages_cpu_s": {k: round(v, 2) for k, v in stages["cpu"].items()},
        "unaccounted_wall_s": round(wall - sum(stages["wall"].values()), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", help="a built dataset folder (default: the DeepArt sample, built 4:1:5)")
    parser.add_argument("--sample", type=Path, default=HERE.parent.parent / "shared" / "data" / "deepart")
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--runs", default=",".join(RUNS))
    parser.add_argument("--output", type=Path, default=HERE / "results" / "fixed_cost.json")
    parser.add_argument("--child", choices=RUNS, help=argparse.SUPPRESS)
    parser.add_argument("--output_dir", help=argparse.SUPPRESS)
    parser.add_argument("--record", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()

    if options.child:
        timer = StageTimer()
        options.run = options.child
        (child_standard if options.child == "standard" else child_project)(options, timer)
        options.record.write_text(json.dumps({"started": STARTED, "wall": timer.wall, "cpu": timer.cpu}))
        return

    sys.path.insert(0, str(HERE.parent))
    import deepart_hf
    from deepart_hf.files import write_json

    load_before = os.getloadavg()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        dataset = options.dataset
        if dataset is None:
            dataset = str(Path(tmp) / "deepart")
            deepart_hf.publish(deepart_hf.build("deepart", options.sample, split_ratio="4:1:5"), dataset)
        for run in options.runs.split(","):
            results[run] = run_child(run, dataset, options.steps, Path(tmp))
            print(f"{run}: {json.dumps({k: v for k, v in results[run].items() if not k.startswith('stages')})}")
    stages = list(dict.fromkeys(stage for r in results.values() for stage in r["stages_wall_s"]))
    width = max(len(s) for s in stages) + 2
    print(f"\n{'wall seconds (cpu seconds)':<{width}}" + "".join(f"{run:>20}" for run in results))
    for stage in stages:
        cells = [
            f"{r['stages_wall_s'][stage]:.1f} ({r['stages_cpu_s'][stage]:.1f})" if stage in r["stages_wall_s"] else "-"
            for r in results.values()
        ]
        print(f"{stage:<{width}}" + "".join(f"{cell:>20}" for cell in cells))
    for key in ("whole_process_wall_s", "whole_process_cpu_s", "in_loop_wall_s", "fixed_wall_s", "fixed_cpu_s"):
        print(f"{key:<{width}}" + "".join(f"{r[key]:>20.1f}" for r in results.values()))
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model_name = next((line.split(":", 1)[1].strip() for line in cpu.splitlines() if "Model name" in line), "?")
    flags = next((line for line in cpu.splitlines() if line.startswith("Flags")), "")
    load_after = os.getloadavg()
    print(
        f"CPU {model_name}, {os.cpu_count()} cores, load average {load_before[0]:.2f} before, {load_after[0]:.2f} after"
    )
    write_json(
        options.output,
        {
            "runs": results,
            "setup": {
                "steps": options.steps,
                "model": "resnet18 from scratch, resize 224, batch 8, seed 42",
                "dataset": options.dataset or f"DeepArt sample ({options.sample}), split 4:1:5 (32/8/40)",
            },
            "environment": {
                "cpu": model_name,
                "native_bf16": "amx_bf16" in flags or "avx512_bf16" in flags,
                "cpu_count": os.cpu_count(),
                "load_average_1_5_15min_before": [round(x, 2) for x in load_before],
                "load_average_1_5_15min_after": [round(x, 2) for x in load_after],
                # oneDNN's and ATen's instruction-set limits: set, they emulate an older CPU on this one
                "isa_limits": {
                    k: os.environ[k] for k in ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY") if k in os.environ
                },
                "load_note": "1-minute load averages; 2 or more means another job shared the cores",
            },
        },
    )
    print(f"saved to {options.output}")


if __name__ == "__main__":
    main()
