"""train.py's arguments: the project's dataclasses beside transformers' TrainingArguments.

Defaults come in three layers, later ones winning: the project's run defaults, the chosen protocol's
recipe, then the user's own flags. All three are command-line tokens parsed by one HfArgumentParser,
so a protocol can set any flag a Hugging Face user knows and any explicit flag overrides it.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from typing import Optional

import torch
from transformers import HfArgumentParser, TrainingArguments

from ..errors import DeepArtError
from .protocols import PROTOCOLS, QUICK, get_protocol


@dataclass
class ModelArguments:
    model: str = field(default="resnet18", metadata={"help": "registry name (see --list_models), Hub id or local folder to fine-tune"})
    model_name_or_path: Optional[str] = field(
        default=None, metadata={"help": "a trained human/ai detector (folder or Hub id): evaluate it (--eval_only) or fine-tune it further"}
    )
    from_scratch: bool = field(default=False, metadata={"help": "random initial weights instead of pretrained ImageNet weights"})
    freeze_backbone: bool = field(default=False, metadata={"help": "train the classification head only (linear probe / feature extraction)"})
    unfreeze_epochs: float = field(default=0.0, metadata={"help": "after the frozen epochs, train this many more epochs with every layer unfrozen"})


@dataclass
class DataArguments:
    dataset: Optional[str] = field(
        default=None, metadata={"help": "a dataset folder written by dataset_scripts/ or a Hub dataset id (default: the synthetic set, built once)"}
    )
    dataset_config: Optional[str] = field(default=None, metadata={"help": "configuration (subset): default, mixed, a genre ..."})
    train_split: str = "train"
    eval_split: Optional[str] = field(default="validation", metadata={"help": "evaluated each epoch; empty string for none"})
    test_split: str = field(default="test", metadata={"help": "evaluated at the end; metrics, predictions and plots come from it"})
    preprocess: str = field(default="resize", metadata={"help": "resize: whole image to --image_size (the seeds); crop: native-resolution crops"})
    image_size: Optional[int] = field(default=None, metadata={"help": "model input side in pixels (default: the model's own)"})
    eval_crops: int = field(default=1, metadata={"help": "crop mode: crops averaged per evaluated image (1 = centre crop)"})
    blur_jpeg_prob: float = field(default=0.0, metadata={"help": "CNNDetection augmentation: probability of Gaussian blur, and of JPEG re-compression"})
    blur_sigma: str = field(default="0,3", metadata={"help": "blur sigma range, MIN,MAX"})
    jpeg_quality: str = field(default="30,100", metadata={"help": "JPEG quality range, MIN,MAX"})
    max_train_samples: Optional[int] = field(default=None, metadata={"help": "use only the first N training images (quick checks)"})
    max_eval_samples: Optional[int] = field(default=None, metadata={"help": "use only the first N validation and test images"})
    synthetic_n_per_class: int = field(default=200, metadata={"help": "size of the default synthetic set, per class"})
    synthetic_image_size: int = field(default=128, metadata={"help": "side of the synthetic images"})


@dataclass
class RunArguments:
    protocol: Optional[str] = field(
        default=None, metadata={"help": f"training recipe to reproduce: {', '.join(PROTOCOLS)} (default: quick on the synthetic set)"}
    )
    eval_only: bool = field(default=False, metadata={"help": "evaluate --model_name_or_path on --dataset's test split, no training"})
    overwrite_output_dir: bool = field(default=False, metadata={"help": "replace a finished run in --output_dir"})
    step_lr_epochs: Optional[float] = field(default=None, metadata={"help": "StepLR: multiply the learning rate by --step_lr_gamma every N epochs"})
    step_lr_gamma: float = 0.1
    list_models: bool = field(default=False, metadata={"help": "print the model registry and exit"})


# Sensible Trainer settings for image classification; any of them can be given on the command line.
RUN_DEFAULTS = {
    "eval_strategy": "epoch",
    "save_strategy": "epoch",
    "save_total_limit": 2,
    "logging_strategy": "steps",
    "logging_steps": 5,
    "report_to": "none",
    # set_transform needs the raw `image` column; the Trainer must not drop it.
    "remove_unused_columns": False,
    # Workers only pay off with cores to spare: on 2 cores the model is the bottleneck and two workers
    # gained nothing (benchmarks/train_throughput.py: resnet18 at 224, 20.2 images/s without, 20.5 with).
    "dataloader_num_workers": min(8, (os.cpu_count() or 1) // 2) if (os.cpu_count() or 1) >= 4 else 0,
    "seed": 42,
}


@dataclass
class Arguments:
    model: ModelArguments
    data: DataArguments
    run: RunArguments
    training: TrainingArguments
    protocol_name: str | None


def _peek(argv: list[str]) -> argparse.Namespace:
    peek = argparse.ArgumentParser(add_help=False)
    for name in ("protocol", "dataset", "model", "model_name_or_path", "output_dir"):
        peek.add_argument(f"--{name}", f"--{name.replace('_', '-')}", default=None)
    return peek.parse_known_args(argv)[0]


def default_output_dir(seen: argparse.Namespace, protocol: str | None, eval_only: bool) -> str:
    dataset = (seen.dataset or "synthetic").rstrip("/").replace("\\", "/").split("/")[-1]
    model = (seen.model_name_or_path or seen.model or (get_protocol(protocol).defaults.get("model") if protocol else None) or "resnet18")
    model = model.rstrip("/").split("/")[-1]
    base = f"outputs/{'eval-' if eval_only else ''}{model}-{dataset}" + (f"-{protocol}" if protocol and not eval_only else "")
    # A finished run is never overwritten: a repeated command gets the next free name, while an
    # interrupted one (no metrics.json yet) keeps its folder and resumes there.
    candidate, number = base, 1
    while os.path.exists(os.path.join(candidate, "metrics.json")):
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def parse_arguments(argv: list[str] | None = None) -> Arguments:
    argv = list(sys.argv[1:] if argv is None else argv)
    seen = _peek(argv)
    protocol = seen.protocol or (QUICK.name if seen.dataset is None and "--eval_only" not in argv else None)
    defaults = dict(RUN_DEFAULTS)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available():
        # Launched as several processes on a machine without GPUs: transformers only goes distributed
        # on CPUs when told so, otherwise each process would silently train alone on all the data.
        defaults.update(use_cpu=True, ddp_backend="gloo")
    layers = [token for key, value in defaults.items() for token in (f"--{key}", str(value))]
    if protocol:
        layers += get_protocol(protocol).argv()
    if seen.output_dir is None:
        layers += ["--output_dir", default_output_dir(seen, protocol, "--eval_only" in argv)]
    parser = HfArgumentParser((ModelArguments, DataArguments, RunArguments, TrainingArguments))
    model, data, run, training = parser.parse_args_into_dataclasses(args=layers + argv)
    run.protocol = protocol
    return Arguments(model, data, run, training, protocol)


def parse_range(text: str, name: str, kind=float) -> tuple:
    try:
        low, high = (kind(part) for part in text.split(","))
    except ValueError:
        raise DeepArtError(f"--{name} must be MIN,MAX, got {text!r}") from None
    if low > high:
        raise DeepArtError(f"--{name}: MIN is above MAX in {text!r}")
    return low, high
