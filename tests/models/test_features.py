"""The features a head reads: captured at its input, equal to what each family computes before its head."""

import huggingface_hub.constants
import pytest
import torch

from deepart_hf.models import classifier_head, create_model, to_crop_detector
from deepart_hf.models.features import head_inputs, image_features, recorded_image_features


@pytest.fixture(autouse=True)
def no_hub(monkeypatch, tmp_path):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))


@pytest.mark.parametrize("name", ["resnet10t", "vit-test", "clip-test", "npr"])
def test_the_head_applied_to_the_features_gives_the_models_logits(name):
    torch.manual_seed(0)
    model, _ = create_model(name, from_scratch=True, image_size=32)
    model.eval()
    pixels = torch.randn(3, 3, 32, 32)
    features = head_inputs(model, pixels)
    assert features.shape[0] == 3 and features.ndim == 2
    with torch.inference_mode():
        logits = model(pixel_values=pixels).logits
        from_features = classifier_head(model)(features)
    torch.testing.assert_close(from_features, logits, rtol=1e-5, atol=1e-5)


def test_a_crop_detectors_features_are_per_crop_and_averaged_per_image():
    torch.manual_seed(0)
    model, processor = create_model("resnet10t", from_scratch=True, image_size=32)
    crops = to_crop_detector(model, processor, eval_crops=4)[0].eval()
    pixels = torch.randn(2, 4, 3, 32, 32)
    per_crop = head_inputs(crops, pixels)
    assert per_crop.shape[:2] == (2, 4)
    one_crop = head_inputs(crops, pixels[:, 1])
    torch.testing.assert_close(per_crop[:, 1], one_crop, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(image_features(crops, pixels), per_crop.mean(dim=1))


@pytest.mark.parametrize("crops", [1, 4])
def test_the_features_of_a_pass_made_for_the_logits_are_recorded_batch_by_batch(crops):
    torch.manual_seed(0)
    model, processor = create_model("resnet10t", from_scratch=True, image_size=32)
    if crops > 1:
        model = to_crop_detector(model, processor, eval_crops=crops)[0]
    model.eval()
    batches = [torch.randn(3, *([crops] if crops > 1 else []), 3, 32, 32) for _ in range(2)]
    with recorded_image_features(model) as recorded, torch.inference_mode():
        logits = [model(pixel_values=pixels).logits for pixels in batches]
    assert [features.shape for features in recorded] == [(3, 512), (3, 512)] and len(logits) == 2
    for features, pixels in zip(recorded, batches):
        torch.testing.assert_close(features, image_features(model, pixels), rtol=0, atol=1e-5)
    with torch.inference_mode():
        model(pixel_values=batches[0])
    assert len(recorded) == 2  # nothing recorded once the block is left
