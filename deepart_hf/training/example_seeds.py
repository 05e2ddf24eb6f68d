"""Each training example's random draws (crop position, flip, ``--augment``, blur/JPEG) seeded by (seed, epoch,
index): an example's view in an epoch is the same whichever DataLoader worker reads it, however many workers
there are, whether they persist across epochs, and whether the run was interrupted and resumed in the middle of
the epoch.

Decisions:

* The sampler's keys carry the epoch: ``EpochIndices`` wraps the run's sampler (shuffled, or source-balanced)
  and yields ``(epoch, index)``. A worker holds its own copy of the dataset from the moment it starts (for the
  whole run when workers persist), so an epoch set on the dataset would not reach it; a key does.
* ``SeededExamples`` reads each key with torch's default generator seeded from it and restored afterwards: the
  transform (``TrainTransform``, or a cached probe's choice of view) draws as it always has, from a stream that
  belongs to that example in that epoch.
* The order of an epoch is a function of the seed and the epoch (accelerate's ``SeedableRandomSampler``, the
  order the Trainer's shuffled sampler has always had, or ``SourceBalancedSampler``), so the Trainer's resume,
  which skips the batches already trained on, lands on the same examples, and every DDP process draws the
  same order before accelerate gives each its batches.
* The seed is ``--data_seed``, or ``--seed`` without one, as for the order.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Dataset, Sampler

from .augment import seeded


def example_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of one example's draws in one epoch: numpy's SeedSequence mixes the three, so that neighbouring
    epochs or indices give unrelated streams (and none equals a cached probe's view seeds but by chance)."""
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1, np.uint64)[0])


class EpochIndices(Sampler[tuple[int, int]]):
    """``(epoch, index)`` for each index the wrapped sampler yields in an epoch."""

    def __init__(self, sampler: Sampler[int]):
        self.sampler = sampler
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.sampler)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = self.epoch
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)
        for index in self.sampler:
            yield epoch, int(index)
        self.epoch = epoch + 1  # the next pass is the next epoch unless set_epoch says otherwise


class SeededExamples(Dataset):
    """A map-style training set read by ``EpochIndices`` keys, each example's random draws seeded by (seed, epoch,
    index)."""

    def __init__(self, dataset, seed: int):
        self.dataset, self.seed = dataset, seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]):
        epoch, index = key
        with seeded(example_seed(self.seed, epoch, index)):
            return self.dataset[index]
