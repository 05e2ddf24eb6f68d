"""Duplicates and leaks, found at build time for every source from the fingerprints of the decode check.

Two rows are *identical* when their decoded pixels hash the same (a PNG re-save of a JPEG's pixels is
caught; two files with the same bytes are caught whatever their names). With ``--near_duplicates`` two
rows are *near* copies when their 64-bit difference hashes differ in at most ``NEAR_MAX_DISTANCE`` bits
(a resized or re-encoded copy). Copies in different splits are a *leak*: the test set would hold an image
the model was trained on. A split by ratio keeps every copy with its original (copies are grouped like
a painting and its re-creation); a source's own splits are kept, except that all copies move to the
earliest split (train, then validation, then test) of any of them, and each move is listed. ``--strict``
fails on a leak instead.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from ..constants import LABELS, SPLITS
from ..errors import SourceError
from .build_report import BuildReport
from .schema import NEAR_HASH_KEY, PIXEL_HASH_KEY
from .splits import SplitPlan

# dHash bits that may differ between near copies; 8 bands of 8 bits find every pair within 7 (pigeonhole).
NEAR_MAX_DISTANCE = 6
_BANDS = 8


class UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)

    def groups(self) -> list[list[int]]:
        by_root = defaultdict(list)
        for i in range(len(self.parent)):
            by_root[self.find(i)].append(i)
        return list(by_root.values())


def exact_clusters(records: list[dict]) -> list[list[int]]:
    """Indices of rows with identical decoded pixels, groups of two or more."""
    by_hash = defaultdict(list)
    for index, record in enumerate(records):
        if record.get(PIXEL_HASH_KEY):
            by_hash[record[PIXEL_HASH_KEY]].append(index)
    return [members for members in by_hash.values() if len(members) > 1]


def near_clusters(records: list[dict], max_distance: int = NEAR_MAX_DISTANCE) -> list[list[int]]:
    """Indices of rows whose difference hashes are within ``max_distance`` bits (linked transitively)."""
    indexed = [(i, r[NEAR_HASH_KEY]) for i, r in enumerate(records) if r.get(NEAR_HASH_KEY) is not None]
    if len(indexed) < 2:
        return []
    index = np.array([i for i, _ in indexed])
    hashes = np.array([h for _, h in indexed], dtype=np.uint64)
    links = UnionFind(len(records))
    # Two hashes within 7 bits agree exactly on at least one of 8 bytes: compare only rows sharing a byte.
    for band in range(_BANDS):
        keys = (hashes >> np.uint64(8 * band)) & np.uint64(0xFF)
        order = np.argsort(keys, kind="stable")
        bounds = np.flatnonzero(np.diff(keys[order])) + 1
        for bucket in np.split(order, bounds):
            if len(bucket) < 2:
                continue
            distance = np.bitwise_count(hashes[bucket][:, None] ^ hashes[bucket][None, :])
            for a, b in zip(*np.nonzero(np.triu(distance <= max_distance, k=1))):
                links.union(int(index[bucket[a]]), int(index[bucket[b]]))
    return [g for g in links.groups() if len(g) > 1]


def find_duplicates(records: list[dict], report: BuildReport, *, near: bool, strict: bool) -> list[list[int]]:
    """List identical (and, if asked, near) copies in ``report``; return the clusters that must share a split."""
    exact = exact_clusters(records)
    report.duplicates = [[records[i]["image_id"] for i in cluster] for cluster in exact]
    conflicts = [c for c in exact if len({records[i]["label"] for i in c}) > 1]
    report.label_conflicts = [
        [f"{records[i]['image_id']} ({LABELS[records[i]['label']]})" for i in c] for c in conflicts
    ]
    if conflicts and strict:
        raise SourceError(f"--strict: the same image under both labels: {', '.join(report.label_conflicts[0])}")
    clusters = list(exact)
    if near:
        exact_of = {i: n for n, cluster in enumerate(exact) for i in cluster}
        for cluster in near_clusters(records):
            # A near group made only of one identical group adds nothing.
            if len({exact_of.get(i, -1 - i) for i in cluster}) > 1:
                report.near_duplicates.append([records[i]["image_id"] for i in cluster])
                clusters.append(cluster)
    return clusters


def split_units(records: list[dict], group_by: str | None, clusters: list[list[int]]) -> list[list[int]]:
    """Rows that must share a split: a group (a painting and its re-creation) joined with its copies."""
    links = UnionFind(len(records))
    first_of_group: dict[str, int] = {}
    if group_by:
        for index, record in enumerate(records):
            links.union(first_of_group.setdefault(str(record[group_by]), index), index)
    for cluster in clusters:
        for index in cluster[1:]:
            links.union(cluster[0], index)
    return links.groups()


def resolve_leaks(
    plan: SplitPlan,
    records: list[dict],
    group_by: str | None,
    clusters: list[list[int]],
    report: BuildReport,
    *,
    strict: bool,
) -> SplitPlan:
    """Move every unit of copies that spans several splits into the earliest one; list each move."""
    split_of = {i: split for split, indices in plan.indices.items() for i in indices}
    in_cluster = {i for cluster in clusters for i in cluster}
    moves: dict[int, str] = {}
    for unit in split_units(records, group_by, clusters):
        splits = {split_of[i] for i in unit if i in split_of}
        if len(splits) < 2:
            continue
        target = min(splits, key=SPLITS.index)
        leaked = [i for i in unit if i in in_cluster]
        entry = {
            "image_ids": [records[i]["image_id"] for i in leaked],
            "from": {records[i]["image_id"]: split_of[i] for i in leaked},
            "to": target,
        }
        if strict:
            where = ", ".join(f"{image_id} ({split})" for image_id, split in entry["from"].items())
            raise SourceError(f"--strict: the same image is in several splits (a test-set leak): {where}")
        report.leaks_moved.append(entry)
        moves.update({i: target for i in unit if split_of.get(i) != target})
    if not moves:
        return plan
    indices = {
        split: sorted([i for i in plan.indices[split] if i not in moves] + [i for i, t in moves.items() if t == split])
        for split in plan.indices
    }
    return SplitPlan(**{**vars(plan), "indices": indices})
