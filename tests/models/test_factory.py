"""The detector factory: every registered model builds offline, trains, saves, and runs in pipeline()."""

import subprocess
import sys
import textwrap
import time
from urllib.error import URLError

import huggingface_hub.constants
import numpy as np
import pytest
import timm.models._builder
import torch
import torchvision
from PIL import Image
from transformers import pipeline

from deepart_hf.constants import ID2LABEL, LABELS
from deepart_hf.errors import DeepArtError, OfflineError
from deepart_hf.models import (
    MODELS,
    create_model,
    describe_model,
    freeze_backbone,
    list_models,
    load_trained,
    unfreeze_all,
)

REQUIRED = [
    "vit-base", "vit-tiny", "vit-test",
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
    "vgg11", "vgg13", "vgg16", "inception_v3", "googlenet",
]  # fmt: skip


def small_size(name: str) -> int:
    return max(32, MODELS[name].min_image_size)


@pytest.fixture(scope="module")
def painting() -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8))


@pytest.fixture(autouse=True)
def no_hub(monkeypatch, tmp_path):
    """Offline with an empty cache, so a pretrained request can never find weights a developer downloaded."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))


def test_registry_lists_every_supported_detector():
    assert set(REQUIRED) <= set(list_models())
    assert MODELS["vit-base"].pretrained_id == "google/vit-base-patch16-224-in21k"
    assert MODELS["resnet18"].pretrained_id.startswith("timm/resnet18.")
    assert MODELS["googlenet"].pretrained_id.startswith("https://download.pytorch.org/")
    assert MODELS["vit-test"].pretrained_id is None
    assert MODELS["inception_v3"].default_image_size == 299


@pytest.mark.parametrize("name", REQUIRED)
def test_every_model_builds_from_scratch_with_a_two_class_head(name):
    size = small_size(name)
    model, processor = create_model(name, from_scratch=True, image_size=size)

    assert model.config.id2label == ID2LABEL
    with torch.no_grad():
        logits = model.eval()(torch.randn(2, 3, size, size)).logits
    assert logits.shape == (2, len(LABELS))
    assert describe_model(model, processor)["image_size"] == size


def test_timm_models_keep_timms_own_init_when_built_from_scratch():
    model, _ = create_model("resnet18", from_scratch=True, image_size=32)
    # kaiming fan-out init, and zero-init of each block's last BatchNorm, rather than transformers' N(0, 0.02)
    assert model.timm_model.conv1.weight.std() > 0.024
    assert model.timm_model.layer1[0].bn2.weight.abs().sum() == 0


@pytest.mark.parametrize("name", ["vit-test", "resnet18"])
def test_saved_detector_runs_in_an_image_classification_pipeline(name, tmp_path, painting):
    model, processor = create_model(name, from_scratch=True, image_size=32)
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)

    classify = pipeline("image-classification", model=str(tmp_path))

    assert {p["label"] for p in classify(painting)} == set(LABELS)
    assert classify.image_processor(painting, return_tensors="pt")["pixel_values"].shape[-2:] == (32, 32)


def test_saved_googlenet_reloads_in_a_fresh_process_after_importing_deepart_hf(tmp_path):
    model, _ = create_model("googlenet", from_scratch=True, image_size=32)
    model.save_pretrained(tmp_path)
    script = textwrap.dedent(
        f"""
        import deepart_hf.models  # registers googlenet with timm
        import numpy as np
        from PIL import Image
        from transformers import pipeline
        classify = pipeline("image-classification", model={str(tmp_path)!r})
        image = Image.fromarray(np.zeros((40, 40, 3), dtype=np.uint8))
        print(sorted(p["label"] for p in classify(image)))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "['ai', 'human']"


def test_pretrained_googlenet_maps_torchvision_weights_and_swaps_the_head(monkeypatch):
    # What GoogLeNet_Weights.IMAGENET1K_V1 holds: a 1000-class model with both auxiliary heads.
    imagenet = torchvision.models.GoogLeNet(aux_logits=True, init_weights=True).state_dict()
    monkeypatch.setattr(timm.models._builder, "load_state_dict_from_url", lambda *args, **kwargs: dict(imagenet))

    model, processor = create_model("googlenet")

    loaded = model.timm_model.state_dict()
    backbone = [key for key in loaded if not key.startswith("fc.")]
    assert all(torch.equal(loaded[key], imagenet[key]) for key in backbone)
    assert loaded["fc.weight"].shape == (2, 1024)
    assert describe_model(model, processor)["base_model"] == MODELS["googlenet"].pretrained_id


def test_pretrained_googlenet_without_network_suggests_from_scratch(monkeypatch):
    def unreachable(*args, **kwargs):
        raise URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(timm.models._builder, "load_state_dict_from_url", unreachable)
    with pytest.raises(OfflineError, match="download.pytorch.org is unreachable.*--from_scratch"):
        create_model("googlenet")


@pytest.mark.parametrize("name", ["vit-base", "resnet18"])
def test_pretrained_weights_offline_fail_fast_with_one_line(name):
    started = time.monotonic()
    with pytest.raises(OfflineError) as error:
        create_model(name)
    assert time.monotonic() - started < 10
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"cannot download pretrained weights for {name!r}")
    assert "--from_scratch" in message


def test_small_configs_have_no_pretrained_weights():
    with pytest.raises(DeepArtError, match="'vit-test' has no pretrained weights.*--from_scratch"):
        create_model("vit-test")


def test_unknown_name_lists_the_registered_ones():
    with pytest.raises(DeepArtError, match="unknown model 'resnet9000': use one of vit-base, .*googlenet"):
        create_model("resnet9000")


def test_image_size_below_the_architectures_minimum_is_refused():
    with pytest.raises(DeepArtError, match="'inception_v3' needs --image_size of at least 75"):
        create_model("inception_v3", from_scratch=True, image_size=32)


def test_image_size_sets_the_processor_and_the_vit_config():
    vit, vit_processor = create_model("vit-test", from_scratch=True, image_size=48)
    assert vit.config.image_size == 48
    assert vit_processor.size == {"height": 48, "width": 48}

    _, cnn_processor = create_model("resnet18", from_scratch=True, image_size=40)
    assert cnn_processor(Image.new("RGB", (90, 60)))["pixel_values"].shape == (1, 3, 40, 40)


def test_resize_mode_processors_squash_the_whole_image_without_a_centre_crop():
    """A red stripe along the left edge of a wide grey image: a squash keeps it, a centre crop would cut it off."""
    stripe = np.full((60, 200, 3), 128, dtype=np.uint8)
    stripe[:, :20] = (255, 0, 0)
    for name in ("vit-test", "resnet18"):
        _, processor = create_model(name, from_scratch=True, image_size=32)
        pixels = processor(Image.fromarray(stripe), return_tensors="pt")["pixel_values"][0]
        assert pixels.shape == (3, 32, 32)
        red, green = pixels[0, :, 0].mean(), pixels[1, :, 0].mean()
        assert red - green > 1.5, name  # the first column is still the red stripe
    _, timm_processor = create_model("resnet18", from_scratch=True, image_size=32)
    assert timm_processor.data_config["crop_pct"] == 1.0 and timm_processor.data_config["crop_mode"] == "squash"
    _, vit_processor = create_model("vit-test", from_scratch=True, image_size=32)
    assert vit_processor.resample.name == "BICUBIC"


def test_crop_mode_wraps_the_model_in_a_crop_detector_with_the_same_weights():
    _plain, plain_processor = create_model("vit-test", from_scratch=True, image_size=32)
    torch.manual_seed(0)
    wrapped, processor = create_model("vit-test", from_scratch=True, image_size=32, preprocess="crop", eval_crops=5)
    assert type(wrapped).__name__ == "CropDetector" and wrapped.config.id2label == ID2LABEL
    assert (processor.crop_size, processor.eval_crops) == (32, 5)
    assert processor.image_mean == list(plain_processor.image_mean)
    with torch.no_grad():
        crops = torch.randn(2, 5, 3, 32, 32)
        per_crop = wrapped.detector(crops.flatten(0, 1)).logits.softmax(-1).view(2, 5, 2).mean(1)
        torch.testing.assert_close(wrapped(crops).logits.softmax(-1), per_crop)
    with pytest.raises(DeepArtError, match="--eval_crops above 1 needs --preprocess crop"):
        create_model("vit-test", from_scratch=True, image_size=32, eval_crops=3)


def test_fine_tuning_a_saved_vit_at_a_new_size_interpolates_position_embeddings(tmp_path):
    model, processor = create_model("vit-test", from_scratch=True, image_size=32)
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)

    bigger, bigger_processor = create_model(str(tmp_path), image_size=64)

    assert bigger.vit.embeddings.position_embeddings.shape[1] == (64 // 16) ** 2 + 1
    assert bigger_processor.size == {"height": 64, "width": 64}
    assert bigger(torch.randn(1, 3, 64, 64)).logits.shape == (1, 2)


@pytest.mark.parametrize("name", ["vit-test", "resnet18", "googlenet"])
def test_freeze_backbone_leaves_only_the_head_trainable(name):
    model, _ = create_model(name, from_scratch=True, image_size=32)
    head = model.classifier if name.startswith("vit") else model.timm_model.get_classifier()

    total = model.num_parameters()
    freeze_backbone(model)
    assert (
        model.num_parameters(only_trainable=True)
        == sum(p.numel() for p in head.parameters())
        == 2 * (head.in_features + 1)
    )

    unfreeze_all(model)
    assert model.num_parameters(only_trainable=True) == total


def test_a_frozen_backbone_keeps_its_batch_norm_statistics_until_unfrozen():
    model, _ = create_model("resnet10t", from_scratch=True, image_size=32)
    norm = model.timm_model.bn1
    before = norm.running_mean.clone()

    freeze_backbone(model)
    model.train()(torch.randn(4, 3, 32, 32) + 3)
    torch.testing.assert_close(norm.running_mean, before, rtol=0, atol=0)
    assert model.training  # the rest of the model still trains (dropout before the head)

    unfreeze_all(model)
    model.train()(torch.randn(4, 3, 32, 32) + 3)
    assert (norm.running_mean - before).abs().max() > 1e-3


def test_freeze_backbone_reaches_inside_a_crop_detector():
    model, _ = create_model("resnet18", from_scratch=True, image_size=32, preprocess="crop")
    freeze_backbone(model)
    head = model.detector.timm_model.get_classifier()
    assert model.num_parameters(only_trainable=True) == sum(p.numel() for p in head.parameters())


def test_describe_model_names_family_architecture_and_preprocessing():
    model, processor = create_model("resnet18", from_scratch=True, image_size=64)
    assert describe_model(model, processor) == {
        "family": "timm",
        "architecture": "resnet18",
        "base_model": "from scratch",
        "image_size": 64,
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
        "parameters": model.num_parameters(),
    }


def test_load_trained_returns_a_saved_detector(tmp_path):
    model, processor = create_model("vit-test", from_scratch=True, image_size=32)
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)

    loaded, loaded_processor = load_trained(str(tmp_path))

    assert loaded.config.id2label == ID2LABEL
    assert loaded_processor.size == {"height": 32, "width": 32}


def test_load_trained_rejects_a_model_with_other_labels(tmp_path):
    model, processor = create_model("vit-test", from_scratch=True, image_size=32)
    model.config.id2label = {0: "cat", 1: "dog"}
    model.config.label2id = {"cat": 0, "dog": 1}
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)

    with pytest.raises(DeepArtError, match=r"not a human/ai detector: its labels are \['cat', 'dog'\]"):
        load_trained(str(tmp_path))


def test_load_trained_from_the_hub_offline_is_an_offline_error():
    with pytest.raises(OfflineError, match="cannot download the model for 'someone/deepart-vit'"):
        load_trained("someone/deepart-vit")
