"""One tiny crop detector trained on the DeepArt sample, shared by the inference tests, and its --eval_only."""

import pytest

import train
from helpers import FAST_TRAINING


@pytest.fixture(scope="session")
def crop_run(tmp_path_factory, deepart_sample):
    """resnet10t from scratch, 64-pixel native crops, 3 averaged: the model the demo's heat map is for."""
    import deepart_hf

    data = tmp_path_factory.mktemp("data") / "deepart"
    deepart_hf.publish(deepart_hf.build("deepart", deepart_sample), data)
    run = tmp_path_factory.mktemp("runs") / "crop"
    argv = [
        "--dataset",
        data,
        "--from_scratch",
        "--model",
        "resnet10t",
        "--preprocess",
        "crop",
        "--image_size",
        "64",
        "--eval_crops",
        "3",
        "--output_dir",
        run,
        *FAST_TRAINING,
        "--save_total_limit",
        "1",
    ]
    assert train.main([str(a) for a in argv]) == 0
    return run, data


@pytest.fixture(scope="session")
def crop_detector(crop_run):
    import deepart_hf

    return deepart_hf.load_detector(crop_run[0])
