"""Sources that weigh the same: an epoch draws an equal share of each source, reproducibly, through the Trainer's
data loader, split between DDP processes and resumed mid-epoch as an uninterrupted run would draw it."""

from collections import Counter

import numpy as np
import pytest
from accelerate.data_loader import prepare_data_loader
from torch.utils.data import DataLoader
from transformers import TrainingArguments

from deepart_hf.models import create_model
from deepart_hf.training.balance import SourceBalancedSampler
from deepart_hf.training.trainer import DetectorTrainer

SOURCES = ["small"] * 10 + ["large"] * 90  # rows 0-9 come from the small source, 10-99 from the large one


def drawn_sources(indices) -> Counter:
    return Counter(SOURCES[i] for i in indices)


def test_each_source_gets_the_same_share_of_an_epoch():
    sampler = SourceBalancedSampler(SOURCES, seed=0)
    epoch = list(sampler)
    assert len(epoch) == len(sampler) == 100  # an epoch keeps its length
    assert drawn_sources(epoch) == {"small": 50, "large": 50}
    # the 10 small-source images five times each; 50 different large-source images
    assert Counter(i for i in epoch if i < 10) == dict.fromkeys(range(10), 5)
    assert len({i for i in epoch if i >= 10}) == 50


def test_a_large_source_is_drawn_through_before_any_image_repeats():
    sampler = SourceBalancedSampler(SOURCES, seed=1)
    two_epochs = list(sampler) + list(sampler)  # each pass is the next epoch
    large = Counter(i for i in two_epochs if i >= 10)
    # 100 draws from 90 images: every image once, 10 of them a second time (the next permutation begins)
    assert set(large) == set(range(10, 100)) and sorted(Counter(large.values()).items()) == [(1, 80), (2, 10)]


def test_the_order_is_a_function_of_the_seed_and_the_epoch():
    first, second = SourceBalancedSampler(SOURCES, seed=3), SourceBalancedSampler(SOURCES, seed=3)
    epochs = [list(first) for _ in range(3)]
    second.set_epoch(2)  # a resumed run starts at its epoch, without drawing the earlier ones
    assert list(second) == epochs[2]
    assert epochs[0] != epochs[1]
    assert list(SourceBalancedSampler(SOURCES, seed=4)) != epochs[0]


def test_three_sources_that_do_not_divide_the_epoch():
    sources = ["a"] * 7 + ["b"] * 3 + ["c"] * 1
    epoch = list(SourceBalancedSampler(sources, seed=0))
    # 11 images: 4, 4 and 3 draws (the remainder goes to the first sources by name)
    assert Counter(sources[i] for i in epoch) == {"a": 4, "b": 4, "c": 3}


class Rows:
    """A map-style dataset whose items are their own index."""

    def __len__(self):
        return len(SOURCES)

    def __getitem__(self, index):
        return index


def indices_of(loader) -> list[int]:
    return [int(i) for batch in loader for i in batch]


@pytest.fixture
def trainer(tmp_path):
    model, _ = create_model("resnet10t", from_scratch=True, image_size=32)
    args = TrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=8, report_to="none", use_cpu=True, seed=5
    )
    return DetectorTrainer(
        model=model, args=args, train_dataset=Rows(), data_collator=np.array, train_sources=list(SOURCES)
    )


def test_the_trainer_draws_balanced_batches_and_resumes_mid_epoch(trainer):
    loader = trainer.get_train_dataloader()
    loader.set_epoch(2)
    epoch = indices_of(loader)
    assert drawn_sources(epoch) == {"small": 50, "large": 50}
    assert epoch == SourceBalancedSampler(SOURCES, seed=5).indices(2).tolist()  # the run's --seed
    # interrupted after 3 batches of epoch 2: the resumed loader gives the rest of the same epoch
    resumed = trainer.get_resumed_dataloader(trainer.get_train_dataloader(), 3)
    resumed.set_epoch(2)
    assert indices_of(resumed) == epoch[3 * 8 :]


def test_ddp_processes_share_out_one_balanced_epoch():
    """Every process draws the same indices; accelerate hands each its own batches of them."""
    shards = []
    for process in range(2):
        loader = DataLoader(Rows(), batch_size=5, sampler=SourceBalancedSampler(SOURCES, seed=0), collate_fn=np.array)
        prepared = prepare_data_loader(loader, num_processes=2, process_index=process, put_on_device=False)
        prepared.set_epoch(0)
        shards.append(indices_of(prepared))
    assert len(shards[0]) == len(shards[1]) == 50
    assert sorted(shards[0] + shards[1]) == sorted(SourceBalancedSampler(SOURCES, seed=0).indices(0).tolist())
