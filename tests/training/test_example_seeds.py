"""Each training example's random draws seeded by (seed, epoch, index): the same views whatever the workers, in
every DDP process's shard, and a run interrupted in the middle of an epoch resumes to the very weights of a run
never interrupted, random crops and colour augmentation included."""

import os
import socket
import subprocess
import sys
import time

import psutil
import pytest
import torch
from accelerate.data_loader import prepare_data_loader, skip_first_batches
from safetensors.torch import load_file
from torch.utils.data import DataLoader
from transformers import TrainingArguments

import deepart_hf
from deepart_hf.models import create_model
from deepart_hf.training.balance import SourceBalancedSampler
from deepart_hf.training.example_seeds import EpochIndices, SeededExamples, example_seed
from deepart_hf.training.trainer import DetectorTrainer
from helpers import FAST_TRAINING, REPO


class Draws:
    """A map-style dataset whose item is its index and three draws of torch's default generator."""

    def __len__(self):
        return 24

    def __getitem__(self, index):
        return torch.cat([torch.tensor([float(index)]), torch.rand(3)])


def drawn(loader) -> list[tuple[int, list[float]]]:
    """(index, its draws) for each example of one pass of ``loader``, in order."""
    return [(int(row[0]), row[1:].tolist()) for batch in loader for row in batch]


def seeded_loader(sampler, workers: int = 0, **options) -> DataLoader:
    return DataLoader(
        SeededExamples(Draws(), seed=7), batch_size=4, sampler=EpochIndices(sampler), num_workers=workers, **options
    )


def test_an_examples_draws_are_a_function_of_the_seed_the_epoch_and_the_index():
    assert example_seed(7, 1, 3) == example_seed(7, 1, 3)
    assert len({example_seed(7, 1, 3), example_seed(8, 1, 3), example_seed(7, 2, 3), example_seed(7, 1, 4)}) == 4
    torch.manual_seed(0)
    before = torch.random.get_rng_state()
    item = SeededExamples(Draws(), seed=7)[(2, 5)]
    assert torch.equal(torch.random.get_rng_state(), before)  # the run's own stream is left as it was
    torch.manual_seed(example_seed(7, 2, 5))
    assert torch.equal(item[1:], torch.rand(3))


def test_the_draws_do_not_depend_on_the_workers():
    sampler = SourceBalancedSampler(["a"] * 8 + ["b"] * 16, seed=7)
    alone = seeded_loader(sampler)
    epochs = [drawn(alone) for _ in range(2)]  # the sampler counts its epochs on
    assert len(epochs[0]) == len(epochs[1]) == 24
    # an image drawn twice in an epoch (the smaller source repeats) is the same view; in the next epoch, another
    views = [dict(epoch) for epoch in epochs]
    assert all(views[0][index] == draws for index, draws in epochs[0])
    assert all(views[0][index] != views[1][index] for index in views[0].keys() & views[1].keys())
    workers = seeded_loader(sampler, workers=2, persistent_workers=True)
    assert [drawn(workers) for _ in range(2)] == epochs


def test_ddp_shards_and_a_resumed_loader_draw_what_one_process_draws():
    sampler = SourceBalancedSampler(["a"] * 8 + ["b"] * 16, seed=7)
    single = seeded_loader(sampler)
    single.sampler.set_epoch(3)
    whole = drawn(single)
    shards = []
    for process in range(2):
        prepared = prepare_data_loader(seeded_loader(sampler), num_processes=2, process_index=process)
        prepared.set_epoch(3)
        shards += drawn(prepared)
    assert sorted(shards) == sorted(whole)
    # a resumed run skips the batches it trained on and draws the rest as the uninterrupted run did
    interrupted = seeded_loader(sampler)
    interrupted.sampler.set_epoch(3)
    assert drawn(skip_first_batches(interrupted, 2)) == whole[2 * 4 :]


@pytest.fixture
def trainer(tmp_path):
    model, _ = create_model("resnet10t", from_scratch=True, image_size=32)
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=4, report_to="none", use_cpu=True)
    return DetectorTrainer(model=model, args=args, train_dataset=Draws(), data_collator=torch.stack)


def test_the_trainers_shuffled_order_is_a_function_of_the_seed_and_the_epoch(trainer):
    def order(epoch):
        loader = trainer.get_train_dataloader()
        loader.set_epoch(epoch)
        return [int(row[0]) for batch in loader for row in batch]

    assert order(1) == order(1) != order(2)
    assert sorted(order(1)) == list(range(24))
    loader = trainer.get_train_dataloader()
    resumed = trainer.get_resumed_dataloader(loader, 3)
    resumed.set_epoch(1)
    assert [int(row[0]) for batch in resumed for row in batch] == order(1)[3 * 4 :]


class Interrupted(Exception):
    pass


def flags_of(data, out, *flags) -> list[str]:
    return [str(part) for part in [
        "--dataset", data, "--output_dir", out, "--model", "resnet10t", "--from_scratch", "--image_size", "32",
        "--preprocess", "crop", "--augment", "color", *FAST_TRAINING, "--num_train_epochs", "2",
        "--save_strategy", "steps", "--save_steps", "3", *flags,
    ]]  # fmt: skip


def run(data, out, *flags):
    return deepart_hf.train(deepart_hf.parse_train_arguments(flags_of(data, out, *flags)))


@pytest.fixture
def synthetic(tmp_path):
    data = tmp_path / "synthetic"
    deepart_hf.publish(deepart_hf.build("synthetic", n_per_class=12, image_size=48, seed=1), data)
    return data


def test_a_run_interrupted_mid_epoch_resumes_to_the_weights_of_an_uninterrupted_one(
    synthetic, tmp_path, monkeypatch, caplog
):
    reference = run(synthetic, tmp_path / "reference").output_dir

    # killed just after the checkpoint of step 6, in the middle of the second epoch
    save = DetectorTrainer._save_checkpoint

    def save_then_die(self, model, trial):
        save(self, model, trial)
        if self.state.global_step == 6:
            assert 1 < self.state.epoch < 2, self.state.epoch
            raise Interrupted

    out = tmp_path / "interrupted"
    with monkeypatch.context() as patched:
        patched.setattr(DetectorTrainer, "_save_checkpoint", save_then_die)
        with pytest.raises(Interrupted):
            run(synthetic, out)
    at_checkpoint = load_file(out / "checkpoint-6" / "model.safetensors")
    resumed = run(synthetic, out).output_dir
    assert f"resuming from {out / 'checkpoint-6'}" in caplog.text

    weights, expected = (load_file(folder / "model.safetensors") for folder in (resumed, reference))
    assert weights.keys() == expected.keys()
    # trained on after the checkpoint, to the reference's weights, not one of them off by a single bit
    assert any(not torch.equal(weights[name], at_checkpoint[name]) for name in weights)
    different = [name for name in weights if not torch.equal(weights[name], expected[name])]
    assert not different, [(name, float((weights[name] - expected[name]).abs().max())) for name in different[:3]]


def ddp_train(data, out, stop_at: str | None = None) -> subprocess.CompletedProcess | None:
    """train.py in two processes (torchrun, gloo), one worker each; killed with its processes as soon as the
    checkpoint ``stop_at`` is complete."""
    with socket.socket() as probe:  # a free port, so parallel or repeated runs never collide
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port),
        str(REPO / "train.py"), *flags_of(data, out, "--per_device_train_batch_size", "2", "--save_steps", "2",
        "--dataloader_num_workers", "1", "--bf16", "false"),
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    if stop_at is None:
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    launcher = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        while not (out / stop_at / "trainer_state.json").is_file():
            assert launcher.poll() is None, "the run ended before the checkpoint to stop at"
            time.sleep(0.005)
    finally:
        for process in psutil.Process(launcher.pid).children(recursive=True):  # torchrun's processes
            process.kill()
        launcher.kill()
        launcher.wait()
    return None


def test_two_processes_interrupted_in_their_second_epoch_resume_to_the_same_weights(synthetic, tmp_path):
    """Each process's shard of a resumed epoch draws what it drew before: in DDP the resumed loader's set_epoch
    does not reach the sampler, the Trainer's epoch does."""
    reference, out = tmp_path / "reference", tmp_path / "interrupted"
    assert ddp_train(synthetic, reference).returncode == 0
    # 2 processes x 2 images a step: 5 steps an epoch, checkpoint-6 a fifth of the way into the second
    ddp_train(synthetic, out, stop_at="checkpoint-6")
    assert not (out / "metrics.json").exists()
    resumed = ddp_train(synthetic, out)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming from {out / 'checkpoint-6'}" in resumed.stderr
    weights, expected = (load_file(folder / "model.safetensors") for folder in (out, reference))
    assert all(torch.equal(weights[name], expected[name]) for name in expected)
