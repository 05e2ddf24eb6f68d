"""score_split: the threaded, batched scoring of every view gives the numbers of the plain sequential loop."""

import datasets
import numpy as np
import pytest
import torch

from deepart_hf.data.images import decode_image
from deepart_hf.errors import DeepArtError
from deepart_hf.evaluation.perturbations import PERTURBATIONS, select_perturbations
from deepart_hf.evaluation.suite import score_split
from deepart_hf.inference.detector import Detector
from deepart_hf.models import create_model
from helpers import png_value, random_pixels


@pytest.fixture(scope="module")
def split():
    sizes = [(40 + 7 * i, 64 - 3 * i) for i in range(7)]  # sizes differ, and 7 images leave a short last batch
    values = [png_value(random_pixels(h, w, seed=i), f"Human/{i}.png") for i, (h, w) in enumerate(sizes)]
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "label": datasets.ClassLabel(names=["human", "ai"]),
            "image_id": datasets.Value("string"),
        }
    )
    return datasets.Dataset.from_dict(
        {"image": values, "label": [i % 2 for i in range(7)], "image_id": [f"img-{i}" for i in range(7)]},
        features=features,
    )


def sequential_scores(detector, split, perturbation=None):
    """The straightforward computation: decode each image, perturb it, score the list in the detector's batches."""
    values = split.cast_column("image", datasets.Image(decode=False))["image"]
    images = [decode_image(value) for value in values]
    return detector.log_odds([perturbation.apply(image) if perturbation else image for image in images])


@pytest.mark.parametrize("options", [dict(preprocess="resize"), dict(preprocess="crop", eval_crops=2)])
def test_every_view_scores_as_in_the_sequential_loop(split, options):
    torch.manual_seed(0)
    model, processor = create_model("resnet10t", from_scratch=True, image_size=32, **options)
    detector = Detector(model, processor, batch_size=3, device="cpu")
    labels, clean, perturbed, ids = score_split(detector, split, PERTURBATIONS, workers=3)
    assert labels.tolist() == [i % 2 for i in range(7)] and ids == [f"img-{i}" for i in range(7)]
    np.testing.assert_allclose(clean, sequential_scores(detector, split), rtol=1e-5, atol=1e-6)
    assert set(perturbed) == {p.label for p in PERTURBATIONS}
    for perturbation in PERTURBATIONS:
        expected = sequential_scores(detector, split, perturbation)
        np.testing.assert_allclose(perturbed[perturbation.label], expected, rtol=1e-5, atol=1e-6)
    # the views differ from the clean images (the PNG control aside), so the comparison above can fail
    assert np.abs(perturbed["Gaussian blur sigma 2.0"] - clean).max() > 1e-4


def test_without_the_clean_view_and_with_no_perturbations(split):
    model, processor = create_model("resnet10t", from_scratch=True, image_size=32, preprocess="resize")
    detector = Detector(model, processor, batch_size=4, device="cpu")
    _, clean, perturbed, _ = score_split(detector, split, select_perturbations("quick"), score_clean=False)
    assert clean.shape == (0,) and all(scores.shape == (7,) for scores in perturbed.values())
    _, clean, perturbed, _ = score_split(detector, split, ())
    assert clean.shape == (7,) and perturbed == {}


def test_a_damaged_image_is_one_clear_error(split):
    model, processor = create_model("resnet10t", from_scratch=True, image_size=32, preprocess="resize")
    detector = Detector(model, processor, batch_size=4, device="cpu")
    broken = split.cast_column("image", datasets.Image(decode=False)).map(
        lambda row, i: {"image": {"bytes": b"not an image" if i == 5 else row["image"]["bytes"], "path": f"{i}.png"}},
        with_indices=True,
    )
    with pytest.raises(DeepArtError, match="cannot decode image '5.png'"):
        score_split(detector, broken, select_perturbations("quick"))
