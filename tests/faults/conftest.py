"""What the fault-injection tests share: a tiny synthetic dataset, the training command and one uninterrupted
reference run of it."""

from pathlib import Path

import pytest
from fault_injection import training_command

import train


@pytest.fixture(scope="package")
def synthetic(tmp_path_factory) -> Path:
    import deepart_hf

    out = tmp_path_factory.mktemp("data") / "synthetic"
    deepart_hf.publish(deepart_hf.build("synthetic", n_per_class=12, image_size=48, seed=1), out)
    return out


@pytest.fixture(scope="package")
def reference_run(synthetic, tmp_path_factory) -> Path:
    """The training command run once without interruption: what every interrupted run must end up equal to."""
    out = tmp_path_factory.mktemp("runs") / "reference"
    assert train.main(training_command(synthetic, out)) == 0
    return out
