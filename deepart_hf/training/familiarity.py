"""The familiarity a trained detector carries (``models/familiarity.py``): the head features of its training and
validation images, stored beside the model at the end of training.

The features are those the head reads at test time: the training images go through the saved processor (the
evaluation transform, not the training augmentation), and a crop detector's features are the mean over the crops
it evaluates. The stratified sample is drawn before any image is read, so a large training set costs at most
``MAX_STORED`` forward passes, and none for the images whose features the run has computed through the evaluation
transform already (a linear probe on cached features: its validation images, and its training images when their
first cached view is the image as the evaluation transform gives it).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from datasets import Dataset

from ..models.familiarity import DEFAULT_K, MAX_STORED, Familiarity, stratified_sample
from ..models.features import dataset_features
from ..models.preprocessing import PixelValues
from .prepared_splits import Splits


def fit_familiarity(
    model,
    processor,
    splits: Splits,
    *,
    batch_size: int = 16,
    seed: int = 0,
    known: Mapping[str, np.ndarray] | None = None,
) -> Familiarity | None:
    """The familiarity of ``model`` on its training and validation splits; None when they hold too few images to
    measure leave-one-out distances (k or fewer). A stream's training split can only be read through its
    augmentation, so a streamed run stores its validation images alone.

    ``known``: (N, D) image features of every row of a split on disk, by name (``training``, ``validation``),
    computed already through the evaluation transform (a linear probe's cached features): the sampled rows are
    taken from them instead of being run through ``model`` again."""
    known = known or {}
    named = [(name, split) for name, split in (("training", splits.train), ("validation", splits.evaluation)) if split]
    if all(isinstance(split, Dataset) for _, split in named):
        sizes = [len(split) for _, split in named]
        labels = np.concatenate([np.asarray(split.with_format(None)["label"]) for _, split in named] or [[]])
        keep = stratified_sample(labels, MAX_STORED, seed)
        bounds = np.cumsum([0, *sizes])
        # the saved processor's evaluation transform, whatever transform the split trains with
        parts = [
            (name, split, keep[(keep >= low) & (keep < high)] - low)
            for (name, split), low, high in zip(named, bounds, bounds[1:])
        ]
    else:  # a stream: its validation split is evaluated already
        parts = [(name, split, None) for name, split in named if name == "validation"]
    features, labels = [], []
    for name, split, rows in parts:
        if rows is not None and name in known:
            if len(known[name]) != len(split):
                raise ValueError(f"{len(known[name])} known {name} features for {len(split)} images")
            values = np.asarray(known[name], dtype=np.float32)[rows]
            values_labels = np.asarray(split.with_format(None)["label"])[rows]
        else:
            part = split if rows is None else split.select(rows).with_transform(PixelValues(processor))
            values, values_labels = dataset_features(model, part, batch_size, desc=f"familiarity of the {name} images")
        if len(values):
            features.append(values)
            labels.append(values_labels)
    if sum(map(len, features)) <= DEFAULT_K:
        return None
    return Familiarity.fit(np.concatenate(features), np.concatenate(labels), seed=seed)
