"""Train/validation/test assignment: by ratio, grouped, stratified, deterministic for a seed.

Grouping is what keeps a test set honest: all rows that share a group key (a DeepArt painting and
its AI re-creation) land in the same split, otherwise a model could be tested on the content it was
trained on. Stratification then works on groups: groups whose rows have the same composition of
stratification values (one human + one AI image; a lone human image; a castle AI image ...) form a
stratum, and each stratum is divided by the ratio on its own, so every split keeps the proportions.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from fractions import Fraction

from ..constants import DEFAULT_SEED, SPLITS
from ..errors import DeepArtError


@dataclass(frozen=True)
class SplitRatio:
    parts: tuple[int, int, int]  # train, validation, test

    @classmethod
    def parse(cls, text: str) -> "SplitRatio":
        """Parse ``"1:1:8"``; every part a non-negative integer, train and test not both zero."""
        pieces = str(text).split(":")
        try:
            parts = tuple(int(p) for p in pieces)
        except ValueError:
            parts = ()
        if len(parts) != 3 or any(p < 0 for p in parts) or sum(parts) == 0:
            raise DeepArtError(
                f"invalid split ratio {text!r}: expected train:validation:test as three non-negative integers, e.g. 1:1:8"
            )
        return cls(parts)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return ":".join(str(p) for p in self.parts)

    def quotas(self, n: int) -> list[Fraction]:
        total = sum(self.parts)
        return [Fraction(n * p, total) for p in self.parts]


@dataclass
class SplitPlan:
    """Which rows go where, and how that was decided (the dataset card quotes it)."""

    indices: dict[str, list[int]]
    method: str  # "ratio" or "upstream"
    ratio: str | None = None
    seed: int | None = None
    grouped_by: str | None = None
    stratified_by: tuple[str, ...] = ()
    group_counts: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        if self.method == "upstream":
            return "the source's own train/validation/test folders, kept as they are"
        grouped = f", grouped by `{self.grouped_by}`" if self.grouped_by else ""
        strat = f", stratified by {', '.join(f'`{c}`' for c in self.stratified_by)}" if self.stratified_by else ""
        return f"train:validation:test = {self.ratio} (seed {self.seed}){grouped}{strat}"


def _apportion(n: int, ratio: SplitRatio, deficit: list[Fraction]) -> list[int]:
    """Largest-remainder apportionment of n groups; ties go to the split furthest behind overall."""
    quotas = ratio.quotas(n)
    counts = [int(q) for q in quotas]
    order = sorted(range(3), key=lambda i: (quotas[i] - counts[i], deficit[i], -i), reverse=True)
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    for i in range(3):
        deficit[i] += quotas[i] - counts[i]
    return counts


def split_by_ratio(
    records: list[dict],
    ratio: SplitRatio | str,
    *,
    seed: int = DEFAULT_SEED,
    group_by: str | None = None,
    stratify_by: tuple[str, ...] = ("label",),
) -> SplitPlan:
    """Assign each record index to a split.

    The result depends only on the records' group keys and stratification values and the seed, not
    on the order of ``records``.
    """
    ratio = SplitRatio.parse(ratio) if isinstance(ratio, str) else ratio
    groups: dict[str, list[int]] = defaultdict(list)
    for index, record in enumerate(records):
        key = str(record[group_by]) if group_by else str(index)
        groups[key].append(index)

    strata: dict[tuple, list[str]] = defaultdict(list)
    for key, members in groups.items():
        composition = tuple(sorted(Counter(tuple(records[i][c] for c in stratify_by) for i in members).items()))
        strata[composition].append(key)

    rng = random.Random(seed)
    deficit = [Fraction(0)] * 3
    assignment: dict[str, list[int]] = {name: [] for name in SPLITS}
    group_counts = Counter()
    for composition in sorted(strata, key=repr):
        keys = sorted(strata[composition])
        rng.shuffle(keys)
        counts = _apportion(len(keys), ratio, deficit)
        start = 0
        for split, count in zip(SPLITS, counts):
            for key in keys[start : start + count]:
                assignment[split].extend(groups[key])
            group_counts[split] += count
            start += count
    return SplitPlan(
        indices={name: sorted(idx) for name, idx in assignment.items()},
        method="ratio",
        ratio=str(ratio),
        seed=seed,
        grouped_by=group_by,
        stratified_by=tuple(stratify_by),
        group_counts=dict(group_counts),
    )


def split_upstream(records: list[dict], key: str) -> SplitPlan:
    """Keep the splits a source already has (the record's ``key`` holds a name from SPLITS)."""
    assignment: dict[str, list[int]] = {name: [] for name in SPLITS}
    for index, record in enumerate(records):
        split = record[key]
        if split not in assignment:
            raise DeepArtError(f"record {index} has unknown split {split!r}; expected one of {', '.join(SPLITS)}")
        assignment[split].append(index)
    return SplitPlan(indices=assignment, method="upstream")
