"""The Trainer, with what image-forensics training needs and transformers' Trainer lacks: StepLR, a console
that shows one progress bar per stage and one line of headline metrics per evaluation, and training examples
whose random draws are seeded by (seed, epoch, index) (``example_seeds.py``), so a run resumed in the middle of
an epoch trains on the views an uninterrupted one would.

Several crops per test image need nothing here: a ``CropDetector`` averages them in its own forward pass, so
the Trainer's standard prediction step already gives one prediction per image.
"""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path

from accelerate.data_loader import SeedableRandomSampler, prepare_data_loader
from safetensors import SafetensorError
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, IterableDataset, RandomSampler
from transformers import Trainer
from transformers.trainer_callback import ProgressCallback
from transformers.trainer_utils import has_length

from ..errors import DeepArtError
from ..evaluation.metrics import HEADLINE_METRICS
from .balance import SourceBalancedSampler
from .example_seeds import EpochIndices, SeededExamples


class StageProgress(ProgressCallback):
    """The Trainer's progress bar, without the dictionaries it prints at every log and the bar it opens for
    every evaluation: the training bar says how far the stage is, one line per evaluation says how well it
    goes, and every logged number is kept in ``trainer_state.json`` and the run's plots."""

    def __init__(self, stage: str | None = None):
        super().__init__()
        self.stage = stage

    def on_train_begin(self, args, state, control, **kwargs):
        super().on_train_begin(args, state, control, **kwargs)
        if self.training_bar is not None and self.stage:
            self.training_bar.set_description(self.stage)

    def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs):
        if self.training_bar is None:  # a prediction outside training (the test split) keeps its bar
            super().on_prediction_step(args, state, control, eval_dataloader=eval_dataloader, **kwargs)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        super().on_evaluate(args, state, control, **kwargs)
        if state.is_world_process_zero and self.training_bar is not None and metrics:
            shown = [
                f"{name.replace('_', ' ')} {metrics[f'eval_{name}']:.3f}"
                for name in HEADLINE_METRICS
                if f"eval_{name}" in metrics
            ]
            loss = f", loss {metrics['eval_loss']:.4f}" if "eval_loss" in metrics else ""
            self.training_bar.write(f"epoch {state.epoch:g}: validation {', '.join(shown)}{loss}")

    def on_log(self, args, state, control, logs=None, **kwargs):
        pass


@contextlib.contextmanager
def saving(folder: str):
    """A save that fails (a full disk, a quota) as one line: torch and safetensors say it deep in a traceback, in
    their own words. What was saved before is untouched, and the same command resumes from it."""
    try:
        yield
    except (OSError, RuntimeError, SafetensorError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else (str(exc).strip() or type(exc).__name__)
        raise DeepArtError(
            f"cannot save in {folder} ({reason.splitlines()[0]}); free some space and run the same command again: "
            "it resumes from the last complete checkpoint"
        ) from None


def readable_like_other_files(folder: Path) -> None:
    """safetensors writes private (0600) files; the weights get the permissions every other file of the run has
    (0666 less the umask), so whoever may read the card and metrics may read the model too."""
    umask = os.umask(0)
    os.umask(umask)
    for path in folder.glob("*.safetensors"):
        path.chmod(0o666 & ~umask)


class DetectorTrainer(Trainer):
    """Trainer + StepLR + the quiet console."""

    def __init__(
        self,
        *args,
        step_lr_epochs: float | None = None,
        step_lr_gamma: float = 0.1,
        stage: str | None = None,
        split_by_node: bool = False,
        train_sources: list[str] | None = None,
        **kwargs,
    ):
        """``split_by_node``: the training set is a stream already split between the processes.
        ``train_sources``: the source of each training row, to draw an equal share of each per epoch."""
        super().__init__(*args, **kwargs)
        self.split_by_node = split_by_node
        self.train_sources = train_sources
        self.step_lr_epochs = step_lr_epochs
        self.step_lr_gamma = step_lr_gamma
        if self.pop_callback(ProgressCallback) is not None:
            self.add_callback(StageProgress(stage))

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False):
        with saving(output_dir or self.args.output_dir):
            super().save_model(output_dir, _internal_call=_internal_call)
        if self.args.should_save:
            readable_like_other_files(Path(output_dir or self.args.output_dir))

    # Private, but no public hook sees a checkpoint's save fail (tests/data/test_internals.py checks it is there)
    def _save_checkpoint(self, model, trial):
        with saving(self.args.output_dir):
            super()._save_checkpoint(model, trial)

    @property
    def data_seed(self) -> int:
        return self.args.data_seed if self.args.data_seed is not None else self.args.seed

    def get_train_dataloader(self) -> DataLoader:
        """A training set read by (epoch, index) keys, each example's draws seeded by them.

        A stream that ``split_dataset_by_node`` already split: accelerate would split it once more (by shard,
        or by batch) and each process would see a part of its part, so it is prepared for this process alone."""
        if not self.split_by_node:
            if not has_length(self.train_dataset) or isinstance(self.train_dataset, IterableDataset):
                return super().get_train_dataloader()
            # the Trainer's own loader (workers, pinning, accelerate's sharding), over the seeded examples
            self._epoch_indices = None
            return self._get_dataloader(
                dataset=SeededExamples(self.train_dataset, self.data_seed),
                description="Training",
                batch_size=self._train_batch_size,
                sampler_fn=self._get_train_sampler,
                is_training=True,
            )
        loader = DataLoader(
            self.train_dataset,
            batch_size=self._train_batch_size,
            collate_fn=self.data_collator,
            num_workers=self.args.dataloader_num_workers,
            pin_memory=self.args.dataloader_pin_memory,
        )
        return prepare_data_loader(
            loader, self.args.device, num_processes=1, process_index=0, put_on_device=True, dispatch_batches=False
        )

    def _get_train_sampler(self, train_dataset=None):
        if self.train_sources is not None:
            sampler = SourceBalancedSampler(self.train_sources, self.data_seed)
        else:
            sampler = super()._get_train_sampler(train_dataset)
            if type(sampler) is RandomSampler:
                # what accelerate would make of it, had it not been wrapped below: an order of (seed, epoch)
                sampler = SeedableRandomSampler(data_source=sampler.data_source, data_seed=self.data_seed)
        if not isinstance(train_dataset, SeededExamples):
            return sampler
        self._epoch_indices = EpochIndices(sampler)
        return self._epoch_indices

    # Private, but the only place that knows the epoch of a resumed run's loader in every case: in several
    # processes, its set_epoch does not reach a sampler under both accelerate's shard and the resume's skip.
    def _run_epoch(self, model, epoch, *args, **kwargs):
        if getattr(self, "_epoch_indices", None) is not None:
            self._epoch_indices.set_epoch(epoch)
        return super()._run_epoch(model, epoch, *args, **kwargs)

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        if self.step_lr_epochs is None:
            return super().create_scheduler(num_training_steps, optimizer)
        # The scheduler steps once per optimizer step: StepLR's step size is the epochs counted in steps.
        steps_per_epoch = max(1, math.ceil(num_training_steps / self.args.num_train_epochs))
        step_size = max(1, round(self.step_lr_epochs * steps_per_epoch))
        self.lr_scheduler = StepLR(optimizer or self.optimizer, step_size=step_size, gamma=self.step_lr_gamma)
        return self.lr_scheduler
