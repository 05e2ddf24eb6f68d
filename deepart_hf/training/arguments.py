"""The training command line: the project's argument dataclasses beside transformers' TrainingArguments,
parsed once into a ``TrainConfig`` (``training/config.py``).

Defaults come in layers, later ones winning: the project's run defaults (resolved for this machine when the
command is parsed: workers, pinned memory, CPU bf16), the chosen protocol's typed preset, the streaming and
attribution defaults, then the user's own flags. The layers are the parser's defaults, so any explicit flag
overrides them in every spelling argparse accepts (``--eval-only``, ``--eval_only=true``). Which protocol
applies (and whether an output folder was given) is read by a first pass of the same parser.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

import torch
from transformers import HfArgumentParser, TrainingArguments

from ..errors import DeepArtError
from ..evaluation.perturbations import ROBUSTNESS_HELP
from .config import TrainConfig, build_config
from .protocols import PROTOCOLS, QUICK, get_protocol
from .task import ATTRIBUTION, DETECTION, GENERATOR_COLUMN, TASKS


@dataclass(frozen=True)
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
    pretrained_weights: str | None = field(
        default=None,
        metadata={
            "help": "a local checkpoint file of a timm model's pretrained weights, loaded by timm instead of the "
            "registry's default (no download: for machines without network access)"
        },
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
    probe_stages: int = field(
        default=1,
        metadata={
            "help": "timm models: the head reads the pooled final features and the pooled outputs of the N-1 feature "
            "stages before the last (a multi-stage probe with a *-linear model); 1: the final features only"
        },
    )
    probe_views: str = field(
        default="resize",
        metadata={
            "help": "the views of each image the head reads, a comma list: resize (the whole image resized to "
            "--image_size), native (the centre --image_size pixels at native resolution, reflect-padded when smaller: "
            "--preprocess crop), or resize,native (timm models: the features of that native crop resized to the "
            "backbone's own input size, then of the crop itself, in one head; e.g. --image_size 512)"
        },
    )

    @property
    def views(self) -> tuple[str, ...]:
        """``--probe_views`` as a tuple of view names."""
        return tuple(view.strip() for view in self.probe_views.split(","))


@dataclass(frozen=True)
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
            "help": "resize: whole image to --image_size (as the DeepArt, Dall·E-vs-paintings and genre studies train; the default for new models); "
            "crop: native-resolution crops. "
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
    balance_sources: bool = field(
        default=True,
        metadata={
            "help": "several --dataset: each training epoch draws as many images from every source, so the larger "
            "does not dominate the head; false: each training image once an epoch, the sources as they come"
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


@dataclass(frozen=True)
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
    keep_checkpoints: bool = field(
        default=False,
        metadata={
            "help": "keep the checkpoints once the run has finished (an unfinished run always keeps them to resume)"
        },
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
    robustness: str = field(default="auto", metadata={"help": ROBUSTNESS_HELP})
    n_resamples: int = field(default=1000, metadata={"help": "bootstrap resamples behind each 95%% interval"})
    push_space: str | None = field(
        default=None, metadata={"help": "also upload the run and its demo (app.py) as a Gradio Space ORG/NAME"}
    )
    cross_source_report: str | None = field(
        default=None,
        metadata={
            "help": "a cross_source.json written by `deepart-hf cross-eval --leave_one_out` on these same datasets: "
            "its leave-one-source-out figures go into the model card"
        },
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
    feature_cache: bool = field(
        default=True,
        metadata={
            "help": "a frozen backbone (linear probes, --freeze_backbone): compute the features of each training "
            "view (the image and its mirror, or seeded random views) and validation image once and train the head "
            "on them; false: run the backbone over every image at every epoch"
        },
    )


@dataclass(frozen=True)
class _OutputDirectory:
    """Only for the first pass: was an output folder given?"""

    output_dir: str | None = None


def run_defaults() -> dict:
    """Sensible Trainer settings for image classification on this machine; any of them can be given on the
    command line. Resolved when a command is parsed, never at import."""
    cpus = os.cpu_count() or 1
    # Workers: the model bounds training in every mode once images are pre-resized (resize) or read from the
    # pixel cache (crop, blur/JPEG), so a training view is cheap next to a step. Run in the training process,
    # though, the view's small tensor ops share torch's threads with the model and wait for them on a busy CPU
    # with few cores. One worker runs them single-threaded (DataLoader workers use one torch thread) beside the
    # model, kept alive between epochs; with more cores, cores/2 workers up to 8 feed decoding-heavy pipelines
    # (streams, first epochs). Figures: benchmarks/README.md, "Per-image costs and the data pipeline".
    workers = min(8, cpus // 2) if cpus >= 4 else 1
    defaults = {
        "eval_strategy": "epoch",
        "save_strategy": "epoch",
        "save_total_limit": 2,
        "logging_strategy": "steps",
        "logging_steps": 5,
        "report_to": "none",
        # set_transform needs the raw `image` column; the Trainer must not drop it.
        "remove_unused_columns": False,
        "dataloader_num_workers": workers,
        # no new worker processes every epoch and evaluation (turned off again when no worker is asked for)
        "dataloader_persistent_workers": True,
        # Pinned memory only helps copies to a GPU; without one, torch warns at every DataLoader.
        "dataloader_pin_memory": torch.cuda.is_available(),
        "seed": 42,
    }
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available():
        # Launched as several processes on a machine without GPUs: transformers only goes distributed
        # on CPUs when told so, otherwise each process would silently train alone on all the data.
        defaults.update(use_cpu=True, ddp_backend="gloo")
    return {**defaults, **cpu_precision_defaults()}


def cpu_bf16_supported() -> bool:
    """Does this CPU compute bf16 natively (AVX512-BF16 or AMX)? Elsewhere bf16 is emulated and slower than fp32.
    (A torch without ``torch.cpu.get_capabilities`` gets fp32.)"""
    capabilities = getattr(torch.cpu, "get_capabilities", dict)()
    return bool(capabilities.get("avx512_bf16") or capabilities.get("amx_bf16"))


def cpu_precision_defaults() -> dict:
    """bf16 autocast for training on a CPU without a GPU where the CPU has native bf16, where it is faster than
    fp32 with test accuracy within the intervals (benchmarks/README.md, "Training speed"); where bf16 is emulated
    it is slower, so fp32 stays. A default like the others: ``--bf16 false`` (or true) given by the user
    decides. transformers only accepts bf16 on a CPU with ``use_cpu``."""
    if torch.cuda.is_available() or not cpu_bf16_supported():
        return {}
    return {"bf16": True, "use_cpu": True}


# --streaming: a stream has no epochs to evaluate and save at, so both happen a few times within --max_steps
# (a fraction below 1 counts in --max_steps).
STREAMING_DEFAULTS = {"eval_strategy": "steps", "eval_steps": 0.25, "save_strategy": "steps", "save_steps": 0.25}
# --task attribution: the target is the generator column that D-ANI and the synthetic set carry.
ATTRIBUTION_DEFAULTS = {"label_column": GENERATOR_COLUMN}
NOT_GIVEN = "(not given)"  # the output folder's placeholder until the run's identity names it


def _parser(*dataclasses, **kwargs) -> HfArgumentParser:
    # No abbreviations: a prefix of one flag must never be taken for another.
    return HfArgumentParser(dataclasses, allow_abbrev=False, **kwargs)


def train_parser(defaults: dict | None = None, **kwargs) -> HfArgumentParser:
    """The parser of every training flag, with ``defaults`` as its defaults (explicit flags win)."""
    parser = _parser(ModelArguments, DataArguments, RunArguments, TrainingArguments, **kwargs)
    if defaults:
        parser.set_defaults(**defaults)
    return parser


def parse_arguments(argv: list[str], prog: str | None = None) -> TrainConfig:
    """A training command line (without the program name) -> its frozen config. ``prog``: the command's name
    in --help."""
    argv = list(argv)
    # First pass, the user's flags alone: which protocol applies, and was an output folder given?
    _, data, run, output, _ = _parser(
        ModelArguments, DataArguments, RunArguments, _OutputDirectory, add_help=False
    ).parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
    protocol = run.protocol or (QUICK.name if data.dataset is None and not run.eval_only else None)
    defaults = run_defaults()
    if protocol:
        defaults.update(get_protocol(protocol).overrides())
    if data.streaming:
        defaults.update(STREAMING_DEFAULTS)
    if run.task == ATTRIBUTION:
        defaults.update(ATTRIBUTION_DEFAULTS)
    if output.output_dir is None:
        defaults["output_dir"] = NOT_GIVEN
    model, data, run, training = train_parser(defaults, prog=prog).parse_args_into_dataclasses(args=argv)
    return build_config(
        model, data, replace(run, protocol=protocol), training, output_dir_given=output.output_dir is not None
    )


def parse_range(text: str, name: str, kind=float) -> tuple:
    try:
        low, high = (kind(part) for part in text.split(","))
    except ValueError:
        raise DeepArtError(f"--{name} must be MIN,MAX, got {text!r}") from None
    if low > high:
        raise DeepArtError(f"--{name}: MIN is above MAX in {text!r}")
    return low, high
