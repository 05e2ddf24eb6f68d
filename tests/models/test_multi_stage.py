"""The multi-stage probe: a timm backbone whose head reads its final pooled features and the pooled outputs of the
stages before the last, with the same weights as the ordinary probe, saved and loaded as any detector; and the
two-view probe, whose head reads the features of a native-resolution crop resized, then of the crop itself."""

import huggingface_hub.constants
import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F
from PIL import Image
from transformers import TimmWrapperForImageClassification

from deepart_hf.errors import DeepArtError
from deepart_hf.inference.detector import load_detector
from deepart_hf.models import (
    CropDetector,
    MultiStageProbeForImageClassification,
    classifier_head,
    create_model,
    describe_model,
    freeze_backbone,
)
from deepart_hf.models.crop_detector import eval_crop_offsets
from deepart_hf.models.features import head_inputs, image_features
from deepart_hf.models.heads import classifier_model
from deepart_hf.models.multi_stage import resize


@pytest.fixture(autouse=True)
def no_hub(monkeypatch, tmp_path):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))


def deepart_pixels(processor, sample, count: int = 4) -> torch.Tensor:
    paths = sorted(sample.glob("Human/*"))[: count // 2] + sorted(sample.glob("Aigc/*"))[: count // 2]
    return processor(images=[Image.open(path).convert("RGB") for path in paths], return_tensors="pt")["pixel_values"]


def test_the_head_reads_the_ordinary_probes_features_then_the_pooled_earlier_stages(deepart_sample):
    multi, processor = create_model("efficientnet-lite0-linear", probe_stages=3)
    ordinary, _ = create_model("efficientnet-lite0-linear")
    assert isinstance(multi, MultiStageProbeForImageClassification)
    assert multi.config.stages == ["blocks.2", "blocks.4"]  # stride 8 and 16; stride 32 feeds the final features
    assert classifier_head(multi).in_features == 1280 + 40 + 112

    pixels = deepart_pixels(processor, deepart_sample)
    features = head_inputs(multi.eval(), pixels)
    assert features.shape == (4, 1432)
    # the first 1280 are exactly what the ordinary probe's head reads
    torch.testing.assert_close(features[:, :1280], head_inputs(ordinary.eval(), pixels), rtol=0, atol=1e-5)
    # the rest: timm's features_only outputs of those stages, on the same ImageNet weights, averaged over positions
    stages = timm.create_model("tf_efficientnet_lite0", features_only=True, out_indices=(2, 3))
    stages.load_state_dict(multi.timm_model.state_dict(), strict=False)
    with torch.no_grad():
        expected = torch.cat([output.mean(dim=(2, 3)) for output in stages.eval()(pixels)], dim=1)
    torch.testing.assert_close(features[:, 1280:], expected, rtol=1e-4, atol=1e-5)
    assert features[:, 1280:].abs().max() > 0.1  # real activations, not an empty hook


def test_one_stage_is_the_ordinary_probe_and_any_timm_backbone_with_stages_works():
    ordinary, _ = create_model("resnet10t", from_scratch=True, image_size=64, probe_stages=1)
    assert not isinstance(ordinary, MultiStageProbeForImageClassification)
    resnet, _ = create_model("resnet10t", from_scratch=True, image_size=64, probe_stages=4)
    assert resnet.config.stages == ["layer1", "layer2", "layer3"]
    assert classifier_head(resnet).in_features == 512 + 64 + 128 + 256
    described = describe_model(resnet)
    assert described["family"] == "timm" and described["image_size"] == 64
    assert described["architecture"] == "resnet10t (head on the final features + pooled layer1, layer2, layer3)"


@pytest.mark.parametrize(
    ("name", "stages", "message"),
    [
        ("vit-test", 2, "--probe_stages is for the registered timm models"),
        ("resnet10t", 0, "--probe_stages must be at least 1, got 0"),
        ("resnet10t", 6, "--probe_stages 6: resnet10t has 5 feature stages"),
    ],
)
def test_what_probe_stages_refuses_is_one_line(name, stages, message):
    with pytest.raises(DeepArtError, match=message) as error:
        create_model(name, from_scratch=True, image_size=32, probe_stages=stages)
    assert "\n" not in str(error.value)


def test_freezing_trains_only_the_multi_stage_head(deepart_sample):
    model, processor = create_model("efficientnet-lite0-linear", probe_stages=2)
    freeze_backbone(model)
    trainable = {name for name, parameter in model.named_parameters() if parameter.requires_grad}
    assert trainable == {"classifier.weight", "classifier.bias"}
    before = model.timm_model.bn2.running_mean.clone()
    model.train()(pixel_values=deepart_pixels(processor, deepart_sample))
    torch.testing.assert_close(model.timm_model.bn2.running_mean, before, rtol=0, atol=0)  # statistics frozen too


def test_saved_it_loads_as_a_detector_with_the_same_probabilities(deepart_sample, tmp_path):
    # (without deepart_hf, through pipeline(trust_remote_code=True): tests/models/test_recipes.py)
    model, processor = create_model("efficientnet-lite0-linear", probe_stages=3)
    with torch.no_grad():
        model.classifier.weight.normal_(0, 0.05, generator=torch.Generator().manual_seed(0))
    model.save_pretrained(tmp_path)
    images = [Image.open(path).convert("RGB") for path in sorted(deepart_sample.glob("*/*"))[::10]]
    with torch.no_grad():
        expected = model.eval()(**processor(images=images, return_tensors="pt")).logits.softmax(-1)[:, 1]
    assert np.ptp(expected.numpy()) > 0.01

    detector = load_detector(tmp_path)
    np.testing.assert_allclose([p.prob_ai for p in detector.predict(images)], expected.numpy(), rtol=0, atol=1e-6)


def centre_crops(sample, size: int, count: int = 4) -> list[Image.Image]:
    """The centre size x size of each image at its own resolution (the DeepArt paintings are all larger)."""
    images = []
    for path in sorted(sample.glob("Human/*"))[: count // 2] + sorted(sample.glob("Aigc/*"))[: count // 2]:
        image = Image.open(path).convert("RGB")
        [(top, left)] = eval_crop_offsets(image.height, image.width, size, 1)
        images.append(image.crop((left, top, left + size, top + size)))
    return images


def test_the_two_view_head_reads_the_resized_crop_then_the_native_crop(deepart_sample):
    two, processor = create_model("efficientnet-lite0-linear", probe_views=("resize", "native"), image_size=288)
    inner = classifier_model(two)
    assert isinstance(two, CropDetector) and isinstance(inner, MultiStageProbeForImageClassification)
    assert (inner.config.resized_view, inner.config.stages, classifier_head(two).in_features) == (224, [], 2 * 1280)
    assert (processor.crop_size, processor.eval_crops) == (288, 1)
    assert describe_model(two)["architecture"] == (
        "tf_efficientnet_lite0 (head on the final features of the input resized to 224 and as given)"
    )

    crops = centre_crops(deepart_sample, 288)
    pixels = processor(images=crops, return_tensors="pt")["pixel_values"]  # (4, 1, 3, 288, 288): the centre crop
    features = image_features(two.eval(), pixels)
    assert features.shape == (4, 2560)
    # the second half: the ordinary probe's features of the native crop
    native, _ = create_model("efficientnet-lite0-linear", preprocess="crop", image_size=288)
    torch.testing.assert_close(features[:, 1280:], image_features(native.eval(), pixels), rtol=0, atol=1e-5)
    # the first half: the ordinary 224 probe's features of the crop resized inside the model ...
    ordinary, ordinary_processor = create_model("efficientnet-lite0-linear")
    # (torch's antialiased bicubic resize, as matrix products that export to ONNX)
    resized = F.interpolate(pixels[:, 0], size=(224, 224), mode="bicubic", align_corners=False, antialias=True)
    torch.testing.assert_close(resize(pixels[:, 0], 224), resized, rtol=0, atol=1e-4)
    torch.testing.assert_close(features[:, :1280], head_inputs(ordinary.eval(), resized), rtol=0, atol=1e-3)
    # ... which is the resize processor's resize of the crop, but for its rounding to 8 bits
    processed = ordinary_processor(crops, return_tensors="pt")["pixel_values"]
    assert (resized - processed).abs().mean() < 0.5 / 127.5  # on average within half a grey level of 255
    assert features[:, :1280].sub(features[:, 1280:]).abs().mean() > 0.05  # two views, two different features


def test_a_native_view_alone_is_the_ordinary_crop_model():
    model, processor = create_model("efficientnet-lite0-linear", probe_views=("native",), image_size=288)
    assert isinstance(classifier_model(model), TimmWrapperForImageClassification)
    assert isinstance(model, CropDetector) and (processor.crop_size, processor.eval_crops) == (288, 1)


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("efficientnet-lite0-linear", {"probe_views": ("resize", "native")}, "must exceed 224"),
        ("vit-test", {"probe_views": ("resize", "native"), "image_size": 64}, "is for the registered timm models"),
        ("efficientnet-lite0-linear", {"probe_views": ("resize", "crops")}, "give resize, native or both"),
        ("efficientnet-lite0-linear", {"probe_views": ("native", "native")}, "give resize, native or both"),
        ("efficientnet-lite0-linear", {"probe_views": ("native",), "preprocess": "resize"}, "drop --preprocess"),
    ],
)
def test_what_probe_views_refuses_is_one_line(name, options, message):
    with pytest.raises(DeepArtError, match=message) as error:
        create_model(name, **options)
    assert "\n" not in str(error.value)


def test_the_saved_two_view_probe_loads_as_a_detector_with_the_same_probabilities(deepart_sample, tmp_path):
    model, processor = create_model("efficientnet-lite0-linear", probe_views=("resize", "native"), image_size=256)
    with torch.no_grad():
        classifier_head(model).weight.normal_(0, 0.05, generator=torch.Generator().manual_seed(0))
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    images = [Image.open(path).convert("RGB") for path in sorted(deepart_sample.glob("*/*"))[::16]]
    with torch.no_grad():
        expected = model.eval()(**processor(images=images, return_tensors="pt")).logits.softmax(-1)[:, 1]
    assert np.ptp(expected.numpy()) > 0.01

    detector = load_detector(tmp_path)
    assert classifier_model(detector.model).config.resized_view == 224
    np.testing.assert_allclose([p.prob_ai for p in detector.predict(images)], expected.numpy(), rtol=0, atol=1e-6)
