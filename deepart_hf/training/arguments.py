"""train.py's arguments: the project's dataclasses beside transformers' TrainingArguments.

Defaults come in three layers, later ones winning: the project's run defaults, the chosen protocol's
recipe, then the user's own flags. All three are command-line tokens parsed by one HfArgumentParser,
so a protocol can set any flag a Hugging Face user knows and any explicit flag overrides it. Which
protocol applies (and whether an output folder was given) is itself read by a first HfArgumentParser pass
over the user's flags, so every spelling argparse accepts (``--eval-only``, ``--eval_only=true``) counts.

The resolved arguments define a run (``run_identity``): they name its default folder, they are recorded in
the folder, and a run is only resumed by a command that resolves to the same identity.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path

import torch
from transformers import HfArgumentParser, TrainingArguments

from ..data.loading import synthetic_dataset_path
from ..errors import DeepArtError
from ..models.registry import MODELS
from .attribution import ATTRIBUTION, DETECTION, TASKS, resolve_attribution_defaults, synthetic_generators
from .protocols import PROTOCOLS, QUICK, get_protocol


@dataclass
class ModelArguments:
    model: str = field(
        default="resnet18", metadata={"help": "registry name (see --list_models), Hub id or local folder to fine-tune"}
    )
    model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "a trained human/ai detector (folder or Hub id): evaluate it (--eval_only) or fine-tune it further"
        },
    )
    from_scratch: bool = field(
        default=False, metadata={"help": "random initial weights instead of pretrained ImageNet weights"}
    )
    # Typed bool (not Optional[bool]) so HfArgumentParser accepts a bare --freeze_backbone; None until resolved.
    freeze_backbone: bool = field(
        default=None,
        metadata={
            "help": "train the classification head only (linear probe / feature extraction); default: the model's own (on for clip-*)"
        },
    )
    unfreeze_epochs: float = field(
        default=0.0, metadata={"help": "after the frozen epochs, train this many more epochs with every layer unfrozen"}
    )


@dataclass
class DataArguments:
    dataset: str | None = field(
        default=None,
        metadata={
            "help": "a dataset folder written by dataset_scripts/ or a Hub dataset id (default: the synthetic set, built once); "
            "several (repeat the flag, or a comma list) mix their training splits and report each test split; "
            "PATH@CONFIG picks one dataset's configuration",
            "action": "append",
        },
    )
    dataset_config: str | None = field(
        default=None, metadata={"help": "configuration (subset): default, mixed, a genre ..."}
    )
    train_split: str = "train"
    eval_split: str | None = field(
        default="validation", metadata={"help": "evaluated each epoch; empty string for none"}
    )
    test_split: str = field(
        default="test", metadata={"help": "evaluated at the end; metrics, predictions and plots come from it"}
    )
    preprocess: str | None = field(
        default=None,
        metadata={
            "help": "resize: whole image to --image_size (the seeds; the default for new models); crop: native-resolution crops. "
            "A trained detector (--model_name_or_path) keeps its own"
        },
    )
    image_size: int | None = field(
        default=None, metadata={"help": "model input side in pixels (default: the model's own)"}
    )
    eval_crops: int | None = field(
        default=None, metadata={"help": "crop mode: crops averaged per evaluated image (default 1, the centre crop)"}
    )
    blur_jpeg_prob: float = field(
        default=0.0,
        metadata={"help": "CNNDetection augmentation: probability of Gaussian blur, and of JPEG re-compression"},
    )
    blur_sigma: str = field(default="0,3", metadata={"help": "blur sigma range, MIN,MAX"})
    jpeg_quality: str = field(default="30,100", metadata={"help": "JPEG quality range, MIN,MAX"})
    augment: str = field(
        default="",
        metadata={
            "help": "training augmentations, a comma list: color (grayscale + colour jitter, the style-shortcut control), "
            "safe (SAFE's jitter + rotation + patch masks), or jitter, rotate, mask"
        },
    )
    max_train_samples: int | None = field(
        default=None, metadata={"help": "use only N training images, drawn with seed 0 (quick checks)"}
    )
    max_eval_samples: int | None = field(
        default=None, metadata={"help": "use only N validation and N test images, drawn with seed 0"}
    )
    synthetic_n_per_class: int = field(default=200, metadata={"help": "size of the default synthetic set, per class"})
    synthetic_image_size: int = field(default=128, metadata={"help": "side of the synthetic images"})
    streaming: bool = field(
        default=False,
        metadata={"help": "stream --dataset (Hub id or folder) instead of downloading it; needs --max_steps"},
    )
    shuffle_buffer: int = field(
        default=1000, metadata={"help": "--streaming: rows in the shuffle buffer of the training stream"}
    )
    image_column: str = field(
        default="image", metadata={"help": "column holding the images (a dataset not built by deepart-hf)"}
    )
    label_column: str = field(
        default="label",
        metadata={"help": "column holding the target: human/ai, or with --task attribution any ClassLabel"},
    )
    label_map: str | None = field(
        default=None,
        metadata={
            "help": "map --label_column values to human/ai, e.g. real=human,fake=ai or real=human,*=ai (* = every other value)"
        },
    )


@dataclass
class RunArguments:
    protocol: str | None = field(
        default=None,
        metadata={
            "help": f"training recipe to reproduce: {', '.join(PROTOCOLS)} (default: quick on the synthetic set)"
        },
    )
    eval_only: bool = field(
        default=False, metadata={"help": "evaluate --model_name_or_path on --dataset's test split, no training"}
    )
    overwrite_output_dir: bool = field(
        default=False,
        metadata={"help": "replace a finished or interrupted run in --output_dir, every stage from scratch"},
    )
    step_lr_epochs: float | None = field(
        default=None, metadata={"help": "StepLR: multiply the learning rate by --step_lr_gamma every N epochs"}
    )
    step_lr_gamma: float = 0.1
    list_models: bool = field(default=False, metadata={"help": "print the model registry and exit"})
    target_fpr: float = field(
        default=0.05,
        metadata={
            "help": "calibrate the decision threshold on the validation split for this false-positive rate "
            "(human images called ai); the temperature is fitted there too"
        },
    )
    robustness: str = field(
        default="all",
        metadata={
            "help": "perturbations evaluated on the test split at the end: all, none, or a comma list of "
            "jpeg, blur, downscale, format, color"
        },
    )
    n_resamples: int = field(default=1000, metadata={"help": "bootstrap resamples behind each 95% interval"})
    push_space: str | None = field(
        default=None, metadata={"help": "also upload the run and its demo (app.py) as a Gradio Space ORG/NAME"}
    )
    task: str = field(
        default=DETECTION,
        metadata={
            "help": f"{DETECTION}: human/ai; {ATTRIBUTION}: one class per value of a ClassLabel column "
            "(--label_column, default generator: real + each generator), P(ai) = 1 - P(real)",
            "choices": TASKS,
        },
    )
    pixel_cache: bool = field(
        default=True,
        metadata={
            "help": "decode full-size images read every epoch (crop mode, blur/JPEG) once into a cache "
            "of pixels beside the datasets cache, reused by later runs on the same data"
        },
    )


@dataclass
class _OutputDirectory:
    """Only for the first pass: was an output folder given?"""

    output_dir: str | None = None


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
    # Workers, from the measured bottleneck (benchmarks/peer_comparison.py). The model bounds training
    # in every mode once images are pre-resized (resize) or read from the pixel cache (crop, blur/JPEG): a
    # training view then costs ~0.5-1 ms single-threaded against ~70 ms of bf16 ResNet-18 step per image. But
    # run in the training process, the view's small tensor ops use torch's two threads, and on a busy 2-core
    # machine each such op waited a scheduler slice (5 evaluation crops: 73 ms instead of 0.6 ms). One worker
    # runs them single-threaded (DataLoader workers use one torch thread) beside the model, kept alive between
    # epochs; with more cores, cores/2 workers up to 8 feed decoding-heavy pipelines (streams, first epochs).
    "dataloader_num_workers": min(8, (os.cpu_count() or 1) // 2) if (os.cpu_count() or 1) >= 4 else 1,
    # Pinned memory only helps copies to a GPU; without one, torch warns at every DataLoader.
    "dataloader_pin_memory": torch.cuda.is_available(),
    "seed": 42,
}


def cpu_bf16_supported() -> bool:
    """Does this CPU compute bf16 natively (AVX512-BF16 or AMX)? Elsewhere bf16 is emulated and slower than fp32."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)


def cpu_precision_defaults() -> dict:
    """bf16 autocast for training on a CPU without a GPU where the CPU has native bf16: ResNet-18 training
    steps ran 2.1-2.4x faster than fp32 on this project's 2-core AVX512-BF16 machine, with test accuracy within
    the intervals (README, Speed). A default like the others: ``--bf16 false`` (or true) given by the user
    decides. transformers only accepts bf16 on a CPU with ``use_cpu``."""
    if torch.cuda.is_available() or not cpu_bf16_supported():
        return {}
    return {"bf16": True, "use_cpu": True}


# Added for --streaming before the protocol's and the user's flags (a fraction below 1 counts in --max_steps).
STREAMING_DEFAULTS = [
    "--eval_strategy",
    "steps",
    "--eval_steps",
    "0.25",
    "--save_strategy",
    "steps",
    "--save_steps",
    "0.25",
]

# TrainingArguments that change what a run learns; the rest (logging, saving, workers) may differ on resume.
TRAINING_HYPERPARAMETERS = (
    "learning_rate", "weight_decay", "optim", "optim_args", "lr_scheduler_type", "lr_scheduler_kwargs", "warmup_steps",
    "num_train_epochs", "max_steps", "per_device_train_batch_size", "gradient_accumulation_steps", "seed", "data_seed",
    "bf16", "fp16", "label_smoothing_factor", "max_grad_norm", "adam_beta1", "adam_beta2", "adam_epsilon",
)  # fmt: skip
# Project arguments that do not change a run's result.
NOT_IDENTITY = {"overwrite_output_dir", "list_models", "robustness", "n_resamples", "push_space", "pixel_cache"}


@dataclass
class Arguments:
    model: ModelArguments
    data: DataArguments
    run: RunArguments
    training: TrainingArguments
    protocol_name: str | None
    synthetic: bool = False  # data.dataset is the embedded default, built on first use

    @property
    def datasets(self) -> list[tuple[str, str | None]]:
        """(dataset, configuration) for each dataset given; ``--dataset_config`` applies to those without @CONFIG."""
        return [dataset_and_config(spec, self.data.dataset_config) for spec in self.data.dataset.split(",")]

    @property
    def dataset_location(self) -> str:
        """The datasets as a run records them: absolute folders or Hub ids, with their configurations."""
        located = []
        for dataset, config in self.datasets:
            where = str(Path(dataset).resolve()) if Path(dataset).exists() else dataset
            located.append(f"{where}@{config}" if config and "," in self.data.dataset else where)
        return ",".join(located)


def dataset_and_config(spec: str, default_config: str | None = None) -> tuple[str, str | None]:
    """``PATH`` or ``PATH@CONFIG`` -> (PATH, CONFIG or the default)."""
    spec = spec.strip()
    if "@" in spec and not Path(spec).exists():
        dataset, config = spec.rsplit("@", 1)
        return dataset, config or default_config
    return spec, default_config


def _plain(value):
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def run_identity(args: Arguments) -> dict:
    """Everything that decides what a run computes, as JSON-ready values."""
    model = asdict(args.model)
    if model["model_name_or_path"] and Path(model["model_name_or_path"]).exists():
        model["model_name_or_path"] = str(Path(model["model_name_or_path"]).resolve())
    data = asdict(args.data)
    data["dataset"] = args.dataset_location
    if not args.synthetic:
        del data["synthetic_n_per_class"], data["synthetic_image_size"]
    run = {key: value for key, value in asdict(args.run).items() if key not in NOT_IDENTITY}
    training = (
        {} if args.run.eval_only else {key: _plain(getattr(args.training, key)) for key in TRAINING_HYPERPARAMETERS}
    )
    return {"model": model, "data": data, "run": run, "training": training}


def identity_differences(recorded: dict, current: dict) -> list[str]:
    """``--name recorded -> current`` for each argument that differs, in a stable order."""
    differences = []
    for group in sorted(set(recorded) | set(current)):
        old, new = recorded.get(group) or {}, current.get(group) or {}
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                differences.append(f"--{key} {old.get(key)!r} -> {new.get(key)!r}")
    return differences


def _digest(identity: dict) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:8]


def default_output_dir(args: Arguments) -> str:
    """outputs/<model>-<dataset>-<preprocessing>-<digest of the run identity>: two commands that differ in
    anything that matters (dataset location, preprocessing, hyperparameters) never share a folder.

    A finished run is never overwritten: a repeated command gets the next free name, while an interrupted
    one (no metrics.json yet) keeps its folder and resumes there.
    """
    dataset = "+".join(Path(name.rstrip("/")).name for name, _ in args.datasets)
    config = f"-{args.data.dataset_config}" if args.data.dataset_config else ""
    model = Path((args.model.model_name_or_path or args.model.model).rstrip("/")).name
    preprocess = f"-{args.data.preprocess}" if args.data.preprocess else ""
    base = f"outputs/{'eval-' if args.run.eval_only else ''}{model}-{dataset}{config}{preprocess}-{_digest(run_identity(args))}"
    candidate, number = base, 1
    while os.path.exists(os.path.join(candidate, "metrics.json")):
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def _parser(*dataclasses, **kwargs) -> HfArgumentParser:
    # No abbreviations: a prefix of one flag must never be taken for another.
    return HfArgumentParser(dataclasses, allow_abbrev=False, **kwargs)


def parse_arguments(argv: list[str] | None = None) -> Arguments:
    argv = list(sys.argv[1:] if argv is None else argv)
    # First pass, the user's flags alone: which protocol applies, and was an output folder given?
    model, data, run, output, _ = _parser(
        ModelArguments, DataArguments, RunArguments, _OutputDirectory, add_help=False
    ).parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
    protocol = run.protocol or (QUICK.name if data.dataset is None and not run.eval_only else None)
    defaults = dict(RUN_DEFAULTS)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available():
        # Launched as several processes on a machine without GPUs: transformers only goes distributed
        # on CPUs when told so, otherwise each process would silently train alone on all the data.
        defaults.update(use_cpu=True, ddp_backend="gloo")
    defaults.update(cpu_precision_defaults())
    layers = [token for key, value in defaults.items() for token in (f"--{key}", str(value))]
    if protocol:
        layers += get_protocol(protocol).argv()
    if data.streaming:  # a stream has no epochs to evaluate and save at: do both a few times within --max_steps
        layers += STREAMING_DEFAULTS
    if output.output_dir is None:
        layers += ["--output_dir", "(not given)"]  # replaced below, once the run's identity is known
    model, data, run, training = _parser(
        ModelArguments, DataArguments, RunArguments, TrainingArguments
    ).parse_args_into_dataclasses(args=layers + argv)
    run.protocol = protocol
    if training.dataloader_num_workers > 0 and not any(
        token.startswith("--dataloader_persistent_workers") for token in argv
    ):
        training.dataloader_persistent_workers = True  # no new worker processes every epoch and evaluation
    if data.dataset is not None:
        # repeated --dataset flags and comma lists are one list, kept as one comma-joined string
        data.dataset = ",".join(part.strip() for value in data.dataset for part in value.split(",") if part.strip())
    _apply_model_defaults(model, data)
    synthetic = data.dataset is None
    resolve_attribution_defaults(run, data, argv)
    if synthetic:
        data.dataset = str(
            synthetic_dataset_path(
                data.synthetic_n_per_class, data.synthetic_image_size, training.seed, synthetic_generators(run)
            )
        )
    args = Arguments(model, data, run, training, protocol, synthetic)
    if output.output_dir is None:
        training.output_dir = default_output_dir(args)
    return args


def _apply_model_defaults(model: ModelArguments, data: DataArguments) -> None:
    """A registered recipe's own defaults: --freeze_backbone for the CLIP probe, --preprocess crop for
    SAFE/NPR; explicit flags and protocols win. Resolved here so that the run's identity records them."""
    spec = MODELS.get(model.model) if not model.model_name_or_path else None
    if model.freeze_backbone is None:
        model.freeze_backbone = bool(spec and spec.freeze_backbone)
    if data.preprocess is None and spec is not None and spec.preprocess is not None:
        data.preprocess = spec.preprocess


def parse_range(text: str, name: str, kind=float) -> tuple:
    try:
        low, high = (kind(part) for part in text.split(","))
    except ValueError:
        raise DeepArtError(f"--{name} must be MIN,MAX, got {text!r}") from None
    if low > high:
        raise DeepArtError(f"--{name}: MIN is above MAX in {text!r}")
    return low, high
