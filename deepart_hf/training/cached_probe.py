"""A frozen backbone's features computed once: the head of a linear probe trains on them instead of running the
backbone over every training and validation image at every epoch (UnivFD extracts its CLIP features once too).

What stays the run's own: the Trainer (``FeatureProbeTrainer`` is a ``DetectorTrainer`` holding the whole model),
so the schedule, optimiser (over the head's parameters, the only trainable ones, as before), epochs, batch size,
logging, per-epoch evaluation, checkpoints of the whole model and resuming are those of any run; calibration,
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
import logging

import numpy as np
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
from .example_seeds import SeededExamples
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


class FeatureProbeTrainer(DetectorTrainer):
    """The run's Trainer over the whole model, whose head steps on batches of cached features. A batch of pixels
    (the test predictions after training) runs the whole model as in any run."""

    def __init__(self, *args, **kwargs):
        kwargs["data_collator"] = collate_features
        super().__init__(*args, **kwargs)
        self.probe = FeatureHead(self.model)

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
