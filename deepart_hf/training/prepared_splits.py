"""What the training path hands on from the data stage: the splits with their transforms, and what identifies them."""

from __future__ import annotations

from dataclasses import dataclass

from datasets import Dataset, IterableDataset


@dataclass
class Splits:
    train: Dataset | IterableDataset | None
    evaluation: Dataset | IterableDataset | None
    test: Dataset | IterableDataset  # with the model's transform set (and pre-resized in resize mode)
    # The test images as stored, in the same order, for the robustness checks, which must see full-size images;
    # None for a stream, which cannot be read twice cheaply (its report then has no perturbations).
    raw_test: Dataset | None
    fingerprint: dict
