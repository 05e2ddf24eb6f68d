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
    def parse(cls, text: str) -> SplitRatio:
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
        grouped = f", grouped by `{self.grouped_by}` and by identical content" if self.grouped_by else ""
        strat = f", stratified by {', '.join(f'`{c}`' for c in self.stratified_by)}" if self.stratified_by else ""
        if self.method == "upstream":
            if self.ratio:  # a validation split carved out of the source's train split
                return f"the source's own train/test split; {self.ratio} (seed {self.seed}){grouped}{strat}"
            return "the source's own train/validation/test folders, kept as they are"
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
    linked: list[list[int]] = (),
) -> SplitPlan:
    """Assign each record index to a split.

    ``linked`` lists further indices that must share a split (copies of one image), joining their groups.
    The result depends only on the records' group keys and stratification values and the seed, not
    on the order of ``records``.
    """
    ratio = SplitRatio.parse(ratio) if isinstance(ratio, str) else ratio
    keys = [str(record[group_by]) if group_by else str(index) for index, record in enumerate(records)]
    if linked:
        # Every member of a linked set takes the smallest group key among them (and so do their groups).
        alias = {key: key for key in keys}
        for members in linked:
            joined = {_resolve(alias, keys[i]) for i in members}
            for key in joined:
                alias[key] = min(joined)
        keys = [_resolve(alias, key) for key in keys]
    groups: dict[str, list[int]] = defaultdict(list)
    for index, key in enumerate(keys):
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


def _resolve(alias: dict[str, str], key: str) -> str:
    while alias[key] != key:
        key = alias[key]
    return key


def carve_validation(
    plan: SplitPlan,
    records: list[dict],
    share: float,
    *,
    seed: int = DEFAULT_SEED,
    group_by: str | None = None,
    stratify_by: tuple[str, ...] = ("label",),
    linked: list[list[int]] = (),
) -> SplitPlan:
    """Move ``share`` of a source's own train split to validation, grouped and stratified; test is untouched."""
    if plan.indices.get("validation"):
        raise DeepArtError("the source already has a validation split; --validation_share carves one only out of train")
    if not 0 < share < 1:
        raise DeepArtError(f"invalid --validation_share {share}: expected a fraction between 0 and 1, e.g. 0.1")
    parts = Fraction(share).limit_denominator(100)
    train = plan.indices["train"]
    position = {index: n for n, index in enumerate(train)}
    inner = split_by_ratio(
        [records[i] for i in train],
        SplitRatio((parts.denominator - parts.numerator, parts.numerator, 0)),
        seed=seed,
        group_by=group_by,
        stratify_by=stratify_by,
        linked=[[position[i] for i in members if i in position] for members in linked],
    )
    return SplitPlan(
        indices={
            "train": [train[i] for i in inner.indices["train"]],
            "validation": [train[i] for i in inner.indices["validation"]],
            "test": plan.indices["test"],
        },
        method="upstream",
        ratio=f"validation {parts.numerator}/{parts.denominator} of the source's train split",
        seed=seed,
        grouped_by=group_by,
        stratified_by=tuple(stratify_by),
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
