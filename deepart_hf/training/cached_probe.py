"""A frozen backbone's features computed once: the head of a linear probe trains on them instead of running the
backbone over every training and validation image at every epoch (UnivFD extracts its CLIP features once too).

What stays the run's own: the Trainer (``FeatureProbeTrainer`` is a ``DetectorTrainer`` holding the whole model),
so the schedule, optimiser (over the head's parameters, the only trainable ones, as before), epochs, batch size,
logging, per-epoch evaluation, checkpoints of the whole model and resuming are those of any run; calibration,
test predictions, report and the saved artifact follow unchanged, since the trained head is the model's own head.

Decisions:

* **Views.** Training draws one view of each image per epoch through the run's ``TrainTransform``. Here each
  image's views are computed once, as a fixed set: in ``resize`` mode without augmentation the transform's only
  randomness is its horizontal flip, so the views are the image and its mirror, which is exactly the set the
  transform draws from; so are they in ``crop`` mode when no training image is larger than the crop (its only
  position is the whole image, as a probe's native view of 512-pixel images has). Otherwise (random crop positions, ``--augment``, blur/JPEG) they are ``RANDOM_DRAWS``
  draws of the transform, each from a seed of (run seed, row, draw), each with its mirror. Every epoch then
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

import logging

import torch
import torch.nn.functional as F
from datasets import Dataset
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset
from tqdm.auto import tqdm
from transformers import PreTrainedModel, TimmWrapperForImageClassification, TrainingArguments
from transformers.modeling_outputs import ImageClassifierOutput

from ..models.crop_detector import crop_averaged_logits
from ..models.features import head_inputs
from ..models.heads import classifier_head, classifier_model
from ..models.preprocessing import collate
from .augment import TrainTransform, seeded
from .trainer import DetectorTrainer

logger = logging.getLogger(__name__)

FEATURES = "features"
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


class FeatureProbeTrainer(DetectorTrainer):
    """The run's Trainer over the whole model, whose head steps on batches of cached features. A batch of pixels
    (the test predictions after training) runs the whole model as in any run."""

    def __init__(self, *args, **kwargs):
        kwargs["data_collator"] = collate_features
        super().__init__(*args, **kwargs)
        self.probe = FeatureHead(self.model)

    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        if FEATURES not in self._signature_columns:
            self._signature_columns.append(FEATURES)

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
