"""Every source weighs the same in training: with ``--dataset A --dataset B`` an epoch draws as many training images
from each source, instead of each image once, where the larger source would set the head's decision and the
smaller one would barely move it.

Decisions:

* An epoch keeps its length (the mixed training split's size), so the steps, the schedule and the checkpoints
  count as without balancing; each source's share is that length over the number of sources.
* A source's images are drawn without replacement, across epochs: each source has an endless stream of random
  permutations of its images, and epoch e takes the e-th share of it. A smaller source's images are repeated
  within an epoch, a larger source's are a different part of it each epoch, and no image is drawn twice before
  every image of its source has been drawn once.
* The order is a function of the seed and the epoch alone (the Trainer and accelerate call ``set_epoch``), so
  every DDP process draws the same indices before accelerate gives each its batches, and a resumed run draws
  exactly the order an uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler


class SourceBalancedSampler(Sampler[int]):
    """Indices into a training split whose row i comes from source ``sources[i]``: an equal share of each source
    per epoch, shuffled together."""

    def __init__(self, sources: Sequence[str], seed: int):
        names, codes = np.unique(np.asarray(sources, dtype=str), return_inverse=True)
        self.groups = [np.flatnonzero(codes == code) for code in range(len(names))]
        self.seed = seed
        self.epoch = 0
        # the epoch's length shared out; the first sources (by name) take one more when it does not divide
        share, extra = divmod(len(sources), len(self.groups))
        self.shares = [share + (index < extra) for index in range(len(self.groups))]

    def __len__(self) -> int:
        return sum(self.shares)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _stream(self, source: int, start: int, stop: int) -> np.ndarray:
        """Positions [start, stop) of the source's endless stream of permutations of its images."""
        group = self.groups[source]
        first, last = start // len(group), (stop - 1) // len(group)
        blocks = [
            np.random.default_rng([self.seed, source, block]).permutation(group) for block in range(first, last + 1)
        ]
        offset = first * len(group)
        return np.concatenate(blocks)[start - offset : stop - offset]

    def indices(self, epoch: int) -> np.ndarray:
        drawn = [
            self._stream(source, epoch * share, (epoch + 1) * share)
            for source, share in enumerate(self.shares)
            if share
        ]
        return np.random.default_rng([self.seed, epoch, len(self.groups)]).permutation(np.concatenate(drawn))

    def __iter__(self) -> Iterator[int]:
        indices = self.indices(self.epoch)
        self.epoch += 1  # the next pass is the next epoch unless set_epoch says otherwise
        yield from indices.tolist()
