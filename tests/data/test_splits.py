from collections import Counter

import pytest

from deepart_hf.data.splits import SplitRatio, split_by_ratio, split_upstream
from deepart_hf.errors import DeepArtError


def paired_records(n_pairs: int) -> list[dict]:
    return [{"painting_id": f"P-{i}", "label": label} for i in range(n_pairs) for label in (0, 1)]


def test_ratio_parsing_rejects_bad_values():
    assert SplitRatio.parse("1:1:8").parts == (1, 1, 8)
    for bad in ("1:1", "a:b:c", "1:-1:8", "0:0:0", "1:1:8:1"):
        with pytest.raises(DeepArtError, match="invalid split ratio"):
            SplitRatio.parse(bad)


def test_paper_ratio_on_forty_pairs_is_exact_and_grouped():
    records = paired_records(40)
    plan = split_by_ratio(records, "1:1:8", seed=42, group_by="painting_id")
    assert {s: len(i) for s, i in plan.indices.items()} == {"train": 8, "validation": 8, "test": 64}
    split_of = {}
    for split, indices in plan.indices.items():
        for i in indices:
            # both images of a painting land in one split
            assert split_of.setdefault(records[i]["painting_id"], split) == split
        assert Counter(records[i]["label"] for i in indices)[0] == len(indices) // 2


def test_same_seed_same_split_whatever_the_record_order():
    records = paired_records(30)
    first = split_by_ratio(records, "1:1:8", seed=7, group_by="painting_id")
    shuffled = list(reversed(records))
    second = split_by_ratio(shuffled, "1:1:8", seed=7, group_by="painting_id")
    ids = lambda recs, plan: {
        s: sorted((recs[i]["painting_id"], recs[i]["label"]) for i in idx) for s, idx in plan.indices.items()
    }
    assert ids(records, first) == ids(shuffled, second)
    other = split_by_ratio(records, "1:1:8", seed=8, group_by="painting_id")
    assert ids(records, other) != ids(records, first)


def test_stratification_keeps_label_proportions_without_groups():
    records = [{"label": 0}] * 60 + [{"label": 1}] * 20
    plan = split_by_ratio(records, "8:1:1", seed=0)
    train = Counter(records[i]["label"] for i in plan.indices["train"])
    assert train == {0: 48, 1: 16}
    assert sum(len(i) for i in plan.indices.values()) == 80


def test_lone_images_are_a_stratum_of_their_own():
    records = paired_records(10) + [{"painting_id": "lonely", "label": 0}]
    plan = split_by_ratio(records, "1:1:8", seed=1, group_by="painting_id")
    assert sorted(i for idx in plan.indices.values() for i in idx) == list(range(21))


def test_upstream_splits_are_kept_and_checked():
    records = [{"s": "train"}, {"s": "test"}, {"s": "validation"}]
    assert split_upstream(records, "s").indices == {"train": [0], "validation": [2], "test": [1]}
    with pytest.raises(DeepArtError, match="unknown split 'dev'"):
        split_upstream([{"s": "dev"}], "s")
