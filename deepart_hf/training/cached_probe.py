"""A frozen backbone's features computed once: the head of a linear probe trains on them instead of running the
backbone over every training and validation image at every epoch (UnivFD extracts its CLIP features once too).

What stays the run's own: the Trainer (``FeatureProbeTrainer`` is a ``DetectorTrainer`` holding the whole model),
so the schedule, optimiser (over the head's parameters, the only trainable ones, as before), epochs, batch size,
logging, per-epoch evaluation, a checkpoint per epoch and resuming are those of any run (a checkpoint holds the
head alone, with a fingerprint of the frozen rest: ``FeatureProbeTrainer``); calibration,
test predictions, report and the saved artifact follow unchanged, since the trained head is the model's own head.
No image goes through the backbone twice: calibration fits on the head's logits on the cached validation features
(``FeatureProbeTrainer.validation_logits``), and the familiarity stored with the model takes the cached features
that are the evaluation transform's (``FeatureProbeTrainer.evaluation_image_features``): the validation images',
and the training images' unflipped views when the views are the image and its mirror (``resize`` mode, or a crop as
large as every image, without augmentation), where that view is exactly the image as the saved processor gives it.

Decisions:

* **Views.** Training draws one view of each image per epoch through the run's ``TrainTransform``. Here each
  image's views are computed once, as a fixed set: in ``resize`` mode without augmentation the transform's only
  randomness is its horizontal flip, so the views are the image and its mirror, which is exactly the set the
  transform draws from; so are they in ``crop`` mode when no training image is larger than the crop (its only
  position is the whole image, as a probe's native view of 512-pixel images has). Otherwise (random crop
  positions, ``--augment``, blur/JPEG) they are ``RANDOM_DRAWS`` draws of the transform, each from a seed of
  (run seed, row, draw), each with its mirror. Every epoch then
  draws one cached view per image with torch's default generator, as the transform draws its flip, seeded per
  image and epoch by the Trainer's dataloader as the transform's draws are (``example_seeds.py``).
* **Features** are the classification head's input (``models.features.head_inputs``, per crop for a crop
  detector's validation images), computed in fp32 with the model in inference mode (batch-norm statistics
  frozen, as ``freeze_backbone`` keeps them during training) whatever ``--bf16`` says: the validation features
  are those calibration and the test predictions see. ``--bf16`` still autocasts the head's step, as it
  autocasts the model's forward otherwise. A timm model's dropout before its classifier (``drop_rate``) is
  applied to the cached features while training, where its forward applies it.
* **When.** The frozen stage of a run (``*-linear`` models, ``--freeze_backbone``) in one process on a dataset
  read from disk; a stream (``--streaming``) or a distributed run trains the old way (the head's step must go
  through DDP's forward to synchronise gradients), and so does the unfrozen stage of ``--unfreeze_epochs``.
  The features are not stored: a resumed run computes them again (one pass), then resumes from its checkpoint.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import safetensors.torch
import torch
import torch.nn.functional as F
from datasets import Dataset
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset
from tqdm.auto import tqdm
from transformers import PreTrainedModel, TimmWrapperForImageClassification, TrainingArguments
from transformers.modeling_outputs import ImageClassifierOutput
from transformers.utils import SAFE_WEIGHTS_NAME

from ..errors import DeepArtError
from ..files import write_json
from ..models.crop_detector import crop_averaged_logits
from ..models.features import head_inputs
from ..models.heads import classifier_head, classifier_model
from ..models.preprocessing import collate
from .augment import TrainTransform, seeded
from .example_seeds import SeededExamples
from .trainer import DetectorTrainer

logger = logging.getLogger(__name__)

FEATURES = "features"
# in a cached probe's checkpoint, beside the head's weights: the fingerprint of the frozen weights left out of it
FROZEN_RECORD = "deepart-hf-frozen-weights.json"
RANDOM_DRAWS = 4  # seeded draws of a random training view (crop position, augmentation), each with its mirror
_SEED_STRIDE = 1_000_003  # a prime: (seed, row, draw) -> distinct seeds for any realistic number of rows


def training_transform(train) -> TrainTransform | None:
    """The run's training transform when its views can be cached: a dataset on disk (not a stream) whose
    transform is the run's ``TrainTransform``."""
    if not isinstance(train, Dataset):
        return None
    transform = train.format.get("format_kwargs", {}).get("transform")
    return transform if isinstance(transform, TrainTransform) else None


def cached_features_apply(enabled: bool, training: TrainingArguments, train) -> bool:
    """Train the head on cached features? Only in one process, on a dataset with the run's TrainTransform."""
    if not enabled:
        return False
    if training.world_size > 1:
        logger.warning("the frozen backbone runs every epoch: cached features train in one process only")
        return False
    if training_transform(train) is None:
        logger.warning("the frozen backbone runs every epoch: a stream's features are not cached")
        return False
    return True


def random_draws(transform: TrainTransform, train: Dataset) -> int:
    """How many seeded draws of the transform make an image's views (each with its mirror): one when the
    transform's only randomness is its flip, as when a crop is as large as every training image (a native view
    of whole images, whose only crop position is the image itself)."""
    if transform.augment:
        return RANDOM_DRAWS
    if transform.mode == "resize":
        return 1
    size = transform.processor.crop_size
    rows = train.with_format(None)
    sizes = [rows[column] for column in ("width", "height") if column in rows.column_names]
    return 1 if len(sizes) == 2 and max(max(sizes[0]), max(sizes[1])) <= size else RANDOM_DRAWS


def describe_views(draws: int) -> str:
    return "the image and its mirror" if draws == 1 else f"{draws} seeded random views, each with its mirror"


class TrainingViews(TorchDataset):
    """Every view of each training image, (views, C, H, W) per row, through the run's own transform: view
    ``2 * draw + mirrored``, each draw's randomness seeded by (seed, row, draw)."""

    def __init__(self, train: Dataset, transform: TrainTransform, seed: int):
        self.rows = train.with_format(None)
        self.transform, self.seed, self.draws = transform, seed, random_draws(transform, train)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, row: int) -> dict:
        example = self.rows[row]
        views = []
        for draw in range(self.draws):
            for mirrored in (False, True):
                with seeded((self.seed * _SEED_STRIDE + row) * RANDOM_DRAWS + draw):
                    views.append(self.transform.pixel_values(example["image"], flip=mirrored))
        return {"pixel_values": torch.stack(views), "labels": example["label"]}


class CachedFeatures(TorchDataset):
    """Cached features as the Trainer's dataset: a validation image's features (per crop for a crop detector)
    whole; a training image's, one of its views drawn at random each time it is read, as the transform draws."""

    def __init__(self, features: torch.Tensor, labels: torch.Tensor, draws: int | None = None):
        self.features, self.labels, self.draws = features, labels, draws

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict:
        features = self.features[index]
        if self.draws is not None:
            draw = int(torch.randint(self.draws, ())) if self.draws > 1 else 0
            mirrored = bool(torch.rand(()) < 0.5)  # TrainTransform's own flip draw
            features = features[2 * draw + int(mirrored)]
        return {FEATURES: features, "labels": int(self.labels[index])}

    def evaluation_features(self) -> torch.Tensor | None:
        """Each image's features as the evaluation transform gives them: a validation image's whole ((N, D), or
        (N, crops, D) for a crop detector), a training image's first view when its views are the image and its
        mirror (``resize`` mode, or a crop as large as every image, without augmentation: the unflipped view is the
        processor's output); None when no cached view is that image (random crops, augmentation)."""
        if self.draws is None:
            return self.features
        return self.features[:, 0] if self.draws == 1 else None


def compute_features(model: PreTrainedModel, dataset, training: TrainingArguments, desc: str, views: int = 1):
    """(features, labels) of a dataset yielding ``pixel_values`` and ``labels``, in fp32, on the CPU; a batch
    holds as many images as an evaluation batch (``views`` per row)."""
    loader = DataLoader(
        dataset,
        batch_size=max(1, training.per_device_eval_batch_size // views),
        collate_fn=collate,
        num_workers=training.dataloader_num_workers,
    )
    was_training = model.training
    model.eval()
    features, labels = [], []
    try:
        for batch in tqdm(loader, desc=desc, unit="batch", disable=training.disable_tqdm):
            features.append(head_inputs(model, batch["pixel_values"].to(training.device)).cpu())
            labels.append(batch["labels"])
    finally:
        model.train(was_training)
    return torch.cat(features), torch.cat(labels)


def cached_feature_datasets(
    model: PreTrainedModel, train: Dataset, evaluation: Dataset | None, training: TrainingArguments
) -> tuple[CachedFeatures, CachedFeatures | None]:
    """The training views' and validation images' features, computed once, as the Trainer's datasets."""
    transform = training_transform(train)
    model.to(training.device)
    with torch.random.fork_rng(devices=[]):  # the run's random stream is the Trainer's, untouched by this pass
        views = TrainingViews(train, transform, training.seed)
        train_features, train_labels = compute_features(
            model, views, training, "features of the training views", views=2 * views.draws
        )
        evaluated = (
            compute_features(model, evaluation, training, "features of the validation images")
            if evaluation is not None
            else None
        )
    if training.process_index == 0:
        print(
            f"Linear probe on features computed once: {len(train_labels)} training images x "
            f"{train_features.shape[1]} views ({describe_views(views.draws)})"
            + (f", {len(evaluated[1])} validation images" if evaluated is not None else "")
        )
    train_set = CachedFeatures(train_features, train_labels, draws=views.draws)
    return train_set, CachedFeatures(*evaluated) if evaluated is not None else None


def head_dropout(model: PreTrainedModel) -> float:
    """The dropout a model's forward applies to its head's input while training (timm's ``drop_rate``)."""
    classifier = classifier_model(model)
    if isinstance(classifier, TimmWrapperForImageClassification):
        return float(getattr(classifier.timm_model, "drop_rate", 0.0) or 0.0)
    return 0.0


class FeatureHead(nn.Module):
    """A model's classification head on cached features: the logits and loss its forward would give."""

    def __init__(self, model: PreTrainedModel):
        super().__init__()
        self.head, self.dropout = classifier_head(model), head_dropout(model)

    def forward(self, features: torch.Tensor, labels: torch.Tensor | None = None, num_items_in_batch=None, **kwargs):
        if self.dropout and self.head.training:
            features = F.dropout(features, self.dropout, training=True)
        # The features as 1x1 "views": (N, D) -> (N, D, 1, 1), a crop detector's (N, crops, D) -> 5-D, so that its
        # crops are averaged by the code its forward averages them with.
        logits = crop_averaged_logits(lambda views: self.head(views.flatten(1)), features[..., None, None]).float()
        loss = None
        if labels is not None:
            # transformers' image-classification loss: summed over the accumulated batch when the Trainer counts it
            loss = F.cross_entropy(logits, labels, reduction="mean" if num_items_in_batch is None else "sum")
            loss = loss if num_items_in_batch is None else loss / num_items_in_batch
        return ImageClassifierOutput(loss=loss, logits=logits)


def collate_features(examples: list[dict]) -> dict[str, torch.Tensor]:
    """Batches of cached features, or of pixels (the test predictions) through the project's ``collate``."""
    if FEATURES not in examples[0]:
        return collate(examples)
    return {
        FEATURES: torch.stack([example[FEATURES] for example in examples]),
        "labels": torch.tensor([example["labels"] for example in examples], dtype=torch.long),
    }


@contextlib.contextmanager
def one_thread():
    """torch's CPU ops on one thread inside the block, as many as before after it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def head_state_names(model: nn.Module, head: nn.Module) -> list[str]:
    """The names in ``model.state_dict()`` of the head's weights and buffers."""
    prefix = next(name for name, module in model.named_modules() if module is head)
    return [name for name in model.state_dict() if name.startswith(prefix + ".")]


def frozen_fingerprint(state: dict[str, torch.Tensor], head_names: list[str]) -> str:
    """sha256 of every weight and buffer of a state dict outside the head, by name, shape, dtype and bytes."""
    digest = hashlib.sha256()
    for name, tensor in sorted(state.items()):
        if name not in head_names:
            digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype};".encode())
            digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class FeatureProbeTrainer(DetectorTrainer):
    """The run's Trainer over the whole model, whose head steps on batches of cached features. A batch of pixels
    (the test predictions after training) runs the whole model as in any run.

    Its checkpoints hold the head's weights alone, with the fingerprint of the frozen rest (``FROZEN_RECORD``):
    nothing else can change while the head trains on cached features, and the whole model saved after each epoch
    was the largest cost of a probe's epochs (20 checkpoints of Lite0's 3.4M weights: 0.9 s of the DeepArt
    probe's 2.1 s in ``Trainer.train`` on one thread; 0.1 s for 20 of the head's 2562). A resumed run rebuilds the frozen part as the
    run first did (pretrained weights, or the seeded initialisation) and loads the head into it; a frozen part
    that differs from the fingerprint is refused. The finished model at the top of the run folder is whole."""

    def __init__(self, *args, **kwargs):
        kwargs["data_collator"] = collate_features
        super().__init__(*args, **kwargs)
        self.probe = FeatureHead(self.model)
        self.head_names = head_state_names(self.model, self.probe.head)
        self._checkpointing = False

    @functools.cached_property
    def fingerprint(self) -> str:
        """Computed once: the frozen weights do not change while the head trains."""
        return frozen_fingerprint(self.model.state_dict(), self.head_names)

    def _save_checkpoint(self, model, trial):
        self._checkpointing = True
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self._checkpointing = False

    # Private, but the one place that writes a checkpoint's weights (tests/data/test_internals.py checks it is there)
    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        if not self._checkpointing or state_dict is not None:
            return super()._save(output_dir, state_dict)
        state = self.model.state_dict()
        super()._save(output_dir, {name: state[name] for name in self.head_names})
        if self.args.should_save:
            record = {"head": self.head_names, "frozen_sha256": self.fingerprint}
            write_json(Path(output_dir or self.args.output_dir) / FROZEN_RECORD, record)

    # Private, but the one place that loads a checkpoint's weights when a run resumes
    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        record_file = Path(resume_from_checkpoint) / FROZEN_RECORD
        if not record_file.is_file():  # a checkpoint of the whole model
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        record = json.loads(record_file.read_text(encoding="utf-8"))
        if record["head"] != self.head_names or record["frozen_sha256"] != self.fingerprint:
            raise DeepArtError(
                f"checkpoint {resume_from_checkpoint} holds a probe's head trained on other frozen weights than "
                "this run builds (another --model, --image_size or pretrained weights); use another --output_dir"
            )
        head = safetensors.torch.load_file(str(Path(resume_from_checkpoint) / SAFE_WEIGHTS_NAME), device="cpu")
        if sorted(head) != sorted(self.head_names):
            raise DeepArtError(f"checkpoint {resume_from_checkpoint} does not hold this probe's head weights")
        (model or self.model).load_state_dict(head, strict=False)

    # Private, but where the Trainer warns of missing weights after loading a checkpoint (--load_best_model_at_end)
    def _issue_warnings_after_load(self, load_result) -> None:
        heads = set(self.head_names)
        super()._issue_warnings_after_load(
            load_result._replace(missing_keys=[name for name in load_result.missing_keys if name in heads])
        )

    def train(self, *args, **kwargs):
        # The head's steps and evaluations are products of a few feature rows: split over two threads of a busy
        # two-core machine they wait on each other (20 epochs of the DeepArt probe at load 7: 0.9 s of backward
        # passes and 0.45 s of losses, for a 1280 x 2 layer on 8 rows). One thread does them without waiting.
        with one_thread():
            return super().train(*args, **kwargs)

    # Private, but the one place where the Trainer makes both its training and its evaluation loaders. Reading a
    # cached feature is indexing a tensor: a DataLoader worker only adds a process hop per batch (20 epochs of the
    # DeepArt probe: 1.5 s of 6 waiting on it at load 8 on two cores). The draws stay the same: each example's are
    # seeded by its (seed, epoch, index), whichever process reads it.
    def _get_dataloader(self, dataset, *args, **kwargs):
        cached = isinstance(dataset.dataset if isinstance(dataset, SeededExamples) else dataset, CachedFeatures)
        if not cached or not self.args.dataloader_num_workers:
            return super()._get_dataloader(dataset, *args, **kwargs)
        settings = ("dataloader_num_workers", "dataloader_persistent_workers", "dataloader_prefetch_factor")
        saved = {name: getattr(self.args, name) for name in settings}
        for name, value in zip(settings, (0, False, None)):
            setattr(self.args, name, value)
        try:
            return super()._get_dataloader(dataset, *args, **kwargs)
        finally:
            for name, value in saved.items():
                setattr(self.args, name, value)

    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        if FEATURES not in self._signature_columns:
            self._signature_columns.append(FEATURES)

    def validation_logits(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The head's logits on the cached validation features, (N, crops, classes) float64, with the labels: what
        ``evaluation.calibration.crop_logits`` computes from the validation images, without the backbone. None
        without a validation split."""
        if not isinstance(self.eval_dataset, CachedFeatures):
            return None
        features = self.eval_dataset.features
        views = features if features.ndim == 3 else features[:, None]
        head = self.probe.head
        was_training = head.training
        head.eval()
        try:
            with torch.inference_mode():
                logits = head(views.flatten(0, 1).to(self.args.device)).float()
        finally:
            head.train(was_training)
        logits = logits.view(views.shape[0], views.shape[1], -1).cpu().numpy().astype(np.float64)
        return logits, self.eval_dataset.labels.numpy()

    def evaluation_image_features(self) -> dict[str, np.ndarray]:
        """{``training``, ``validation``: (N, D) image features (a crop detector's averaged over its crops)} of the
        cached splits whose features are the evaluation transform's (``CachedFeatures.evaluation_features``), for
        the familiarity stored with the model (``training.familiarity.fit_familiarity``'s ``known``)."""
        found = {}
        for name, dataset in (("training", self.train_dataset), ("validation", self.eval_dataset)):
            features = dataset.evaluation_features() if isinstance(dataset, CachedFeatures) else None
            if features is not None:
                found[name] = (features.mean(dim=1) if features.ndim == 3 else features).numpy()
        return found

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if FEATURES not in inputs:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        with self.accelerator.autocast():
            return super().compute_loss(self.probe, inputs, return_outputs, num_items_in_batch)


__all__ = [
    "FeatureProbeTrainer",
    "cached_feature_datasets",
    "cached_features_apply",
    "describe_views",
]
