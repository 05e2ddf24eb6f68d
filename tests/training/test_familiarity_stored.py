"""The familiarity a run stores: the features its head reads for the training and validation images at test time
(the saved processor, not the training augmentation), a stratified sample of them."""

import numpy as np
import pytest
import torch
from datasets import ClassLabel, Dataset, Features, Image

import deepart_hf.training.familiarity as familiarity_module
from deepart_hf.data.images import decode_image
from deepart_hf.models import create_model
from deepart_hf.models.features import image_features
from deepart_hf.models.preprocessing import PixelValues
from deepart_hf.training.familiarity import fit_familiarity
from deepart_hf.training.prepared_splits import Splits
from helpers import png_value, random_pixels


class Noise:
    """A training transform that gives pixels unrelated to the image, as a heavy augmentation would."""

    def __call__(self, batch):
        return {"pixel_values": [torch.randn(3, 32, 32) for _ in batch["image"]], "labels": batch["label"]}


def split(labels, seed):
    features = Features({"image": Image(decode=False), "label": ClassLabel(names=["human", "ai"])})
    images = [png_value(random_pixels(40, 48, seed + i), f"{seed + i}.png") for i in range(len(labels))]
    return Dataset.from_dict({"image": images, "label": labels}, features=features)


@pytest.fixture(scope="module")
def model_and_processor():
    torch.manual_seed(0)
    model, processor = create_model("vit-test", from_scratch=True, image_size=32)
    return model.eval(), processor


def normalised(features: torch.Tensor) -> np.ndarray:
    return torch.nn.functional.normalize(features, dim=1).numpy()


def test_the_stored_features_are_what_the_head_reads_at_test_time(model_and_processor):
    model, processor = model_and_processor
    train, validation = split([0, 1, 0, 1, 0, 1], 0), split([1, 0, 0, 1], 100)
    train.set_transform(Noise())
    validation.set_transform(PixelValues(processor))
    familiarity = fit_familiarity(model, processor, Splits(train, validation, validation, None, {}), batch_size=3)

    images = [
        decode_image(value) for value in [*train.with_format(None)["image"], *validation.with_format(None)["image"]]
    ]
    expected = image_features(model, processor(images=images, return_tensors="pt")["pixel_values"])
    np.testing.assert_allclose(familiarity.features, normalised(expected), atol=1e-5)
    assert familiarity.labels.tolist() == [0, 1, 0, 1, 0, 1, 1, 0, 0, 1]
    assert familiarity.size == 10 and familiarity.k == 5 and familiarity.percentile == 95.0
    assert train.format["format_kwargs"]["transform"].__class__ is Noise  # the run's own splits are left as they were


def test_a_large_training_set_is_sampled_before_any_image_is_read(model_and_processor, monkeypatch):
    model, processor = model_and_processor
    monkeypatch.setattr(familiarity_module, "MAX_STORED", 8)
    read = []
    original = PixelValues.__call__

    def counting(self, batch):
        read.extend(batch["image"])
        return original(self, batch)

    monkeypatch.setattr(PixelValues, "__call__", counting)
    train = split([0] * 9 + [1] * 3, 0)
    train.set_transform(Noise())
    familiarity = fit_familiarity(model, processor, Splits(train, split([0] * 3 + [1], 50), None, None, {}))
    assert familiarity.size == 8 and len(read) == 8
    assert np.bincount(familiarity.labels).tolist() == [6, 2]  # 12 human, 4 ai: three to one, as in the splits


def test_too_few_images_store_nothing(model_and_processor):
    model, processor = model_and_processor
    assert fit_familiarity(model, processor, Splits(split([0, 1, 0], 0), split([1, 0], 9), None, None, {})) is None
