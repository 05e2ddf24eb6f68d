"""A training run as one frozen value: ``TrainConfig``, built once from parsed arguments and never changed.

``deepart_hf.train(config)`` runs it. Sub-runs (cross-source, few-shot, benchmarks) derive their configs
with ``dataclasses.replace`` (``with_changes`` below does it group by group). The config defines a run
(``run_identity``): it names the run's default folder, it is recorded in the folder, and a run is only
resumed by a config with the same identity.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
from dataclasses import asdict, dataclass, fields, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from ..data.loading import synthetic_dataset_path
from ..errors import DeepArtError
from ..models.registry import MODELS
from .task import ATTRIBUTION, synthetic_generators

if TYPE_CHECKING:
    from transformers import TrainingArguments

    from .arguments import DataArguments, ModelArguments, RunArguments

FINISHED_MARKER = "metrics.json"  # written last: a folder holding it is a finished run


def is_finished(folder: str | os.PathLike) -> bool:
    """Does ``folder`` hold a finished run?"""
    return (Path(folder) / FINISHED_MARKER).is_file()


# Where a run goes when no --output_dir is given: a folder of the user's working directory, as the command
# line is run there.
OUTPUTS = "outputs"

# TrainingArguments that change what a run learns; the rest (logging, saving, workers) may differ on resume.
TRAINING_HYPERPARAMETERS = (
    "learning_rate", "weight_decay", "optim", "optim_args", "lr_scheduler_type", "lr_scheduler_kwargs", "warmup_steps",
    "num_train_epochs", "max_steps", "per_device_train_batch_size", "gradient_accumulation_steps", "seed", "data_seed",
    "bf16", "fp16", "label_smoothing_factor", "max_grad_norm", "adam_beta1", "adam_beta2", "adam_epsilon",
)  # fmt: skip
# Project arguments that do not change a run's result.
NOT_IDENTITY = {
    "overwrite_output_dir",
    "keep_checkpoints",
    "list_models",
    "robustness",
    "n_resamples",
    "push_space",
    "pixel_cache",
    # How a frozen backbone's features reach the head (once, or every epoch): checkpoints of either way are the
    # whole model's, so each resumes the other; in resize mode without augmentation both draw the same views.
    "feature_cache",
    "cross_source_report",  # what the card shows beside the run, not what the run computes
}


@dataclass(frozen=True)
class TrainConfig:
    model: ModelArguments
    data: DataArguments
    run: RunArguments
    # Handed to the Trainer as it is. Its push_to_hub is always off: the run pushes once, at the end,
    # after everything is saved (``push_to_hub`` below), where the Trainer would push every checkpoint.
    training: TrainingArguments
    protocol_name: str | None = None
    synthetic: bool = False  # data.dataset is the embedded default, built on first use
    push_to_hub: bool = False

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

    @property
    def output_dir(self) -> Path:
        return Path(self.training.output_dir)

    def with_changes(self, *, model=None, data=None, run=None, training=None) -> TrainConfig:
        """A new config with these fields changed in each group, e.g. ``data={"dataset": "x"}``."""
        groups = {"model": model, "data": data, "run": run, "training": training}
        return replace(
            self, **{name: replace(getattr(self, name), **changes) for name, changes in groups.items() if changes}
        )


def build_config(
    model: ModelArguments,
    data: DataArguments,
    run: RunArguments,
    training: TrainingArguments,
    *,
    output_dir_given: bool = True,
) -> TrainConfig:
    """The config of a run from its argument groups: the model's own defaults resolved, the datasets as one
    comma list (the synthetic default's folder when none is given), and the default output folder."""
    if isinstance(data.dataset, (list, tuple)):
        # repeated --dataset flags and comma lists are one list, kept as one comma-joined string
        data = replace(
            data, dataset=",".join(part.strip() for value in data.dataset for part in value.split(",") if part.strip())
        )
    if run.task == ATTRIBUTION and data.label_map:
        raise DeepArtError(
            "--label_map maps a column to human/ai; --task attribution learns the column's own classes, so drop it"
        )
    if training.train_sampling_strategy == "group_by_length":
        # transformers groups text examples by token count; an image has none, and the sampler would fail mid-run
        raise DeepArtError(
            "--train_sampling_strategy group_by_length groups text by length, images have none: "
            "use random or sequential"
        )
    model, data = _model_defaults(model, data)
    synthetic = not data.dataset
    if synthetic:
        path = synthetic_dataset_path(
            data.synthetic_n_per_class, data.synthetic_image_size, training.seed, synthetic_generators(run.task)
        )
        data = replace(data, dataset=str(path))
    push_to_hub, changes = training.push_to_hub, {}
    if push_to_hub:
        changes["push_to_hub"] = False
    if training.dataloader_persistent_workers and training.dataloader_num_workers == 0:
        changes["dataloader_persistent_workers"] = False  # torch refuses persistent workers without workers
    if changes:
        training = replace(training, **changes)
    config = TrainConfig(model, data, run, training, run.protocol, synthetic, push_to_hub)
    if not output_dir_given:
        config = replace(config, training=replace(training, output_dir=default_output_dir(config)))
    return config


def _model_defaults(model: ModelArguments, data: DataArguments) -> tuple[ModelArguments, DataArguments]:
    """A registered recipe's own defaults: --freeze_backbone for the CLIP probe, --preprocess crop for
    SAFE/NPR and for a probe reading the native view; explicit flags and protocols win. Resolved here so that the
    run's identity records them."""
    head_flags = {"--probe_stages": model.probe_stages != 1, "--probe_views": model.views != ("resize",)}
    for flag in (flag for flag, given in head_flags.items() if given and model.model_name_or_path):
        raise DeepArtError(
            f"{flag} builds a new model's head; a trained detector (--model_name_or_path) keeps its own: drop {flag}"
        )
    if "native" in model.views and data.preprocess is None:
        data = replace(data, preprocess="crop")
    spec = MODELS.get(model.model) if not model.model_name_or_path else None
    if model.freeze_backbone is None:
        model = replace(model, freeze_backbone=bool(spec and spec.freeze_backbone))
    if data.preprocess is None and spec is not None and spec.preprocess is not None:
        data = replace(data, preprocess=spec.preprocess)
    return model, data


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


def run_identity(config: TrainConfig) -> dict:
    """Everything that decides what a run computes, as JSON-ready values."""
    model = asdict(config.model)
    if model["model_name_or_path"] and Path(model["model_name_or_path"]).exists():
        model["model_name_or_path"] = str(Path(model["model_name_or_path"]).resolve())
    data = asdict(config.data)
    data["dataset"] = config.dataset_location
    if not config.synthetic:
        del data["synthetic_n_per_class"], data["synthetic_image_size"]
    if len(config.datasets) < 2:
        del data["balance_sources"]  # one source has nothing to balance (and runs recorded before it resume)
    run = {key: value for key, value in asdict(config.run).items() if key not in NOT_IDENTITY}
    training = (
        {} if config.run.eval_only else {key: _plain(getattr(config.training, key)) for key in TRAINING_HYPERPARAMETERS}
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


def default_output_dir(config: TrainConfig) -> str:
    """outputs/<model>-<dataset>-<preprocessing>-<digest of the run identity>: two commands that differ in
    anything that matters (dataset location, preprocessing, hyperparameters) never share a folder.

    A finished run is never overwritten: a repeated command gets the next free name, while an interrupted
    one (no metrics.json yet) keeps its folder and resumes there.
    """
    dataset = "+".join(Path(name.rstrip("/")).name for name, _ in config.datasets)
    data = config.data
    dataset_config = f"-{data.dataset_config}" if data.dataset_config else ""
    model = Path((config.model.model_name_or_path or config.model.model).rstrip("/")).name
    preprocess = f"-{data.preprocess}" if data.preprocess else ""
    prefix = "eval-" if config.run.eval_only else ""
    base = f"{OUTPUTS}/{prefix}{model}-{dataset}{dataset_config}{preprocess}-{_digest(run_identity(config))}"
    candidate, number = base, 1
    while is_finished(candidate):
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def config_command(config: TrainConfig) -> str:
    """The ``deepart-hf train`` command that builds this config: every identity-relevant value that differs
    from its default, and the output folder. Recorded with the run instead of whatever command started it
    (a cross-source or few-shot study runs many configs from one command line)."""
    from transformers import TrainingArguments

    def flag(name: str, value) -> list[str]:
        value = _plain(value)
        text = str(value).lower() if isinstance(value, bool) else str(value)
        return [f"--{name}", text]

    tokens = ["deepart-hf", "train"]
    for group in (config.model, config.data, config.run):
        for item in fields(group):
            value = getattr(group, item.name)
            if item.name in ("list_models", "protocol") or value == item.default:
                continue
            if config.synthetic and item.name == "dataset":
                continue
            tokens += flag(item.name, value)
    defaults = TrainingArguments.__dataclass_fields__
    for name in TRAINING_HYPERPARAMETERS:
        value = getattr(config.training, name)
        if _plain(value) != _plain(defaults[name].default):
            tokens += flag(name, value)
    tokens += flag("output_dir", config.training.output_dir)
    return shlex.join(tokens)
