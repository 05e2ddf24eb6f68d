"""The recipes of detectors that generalise: UniversalFakeDetect (frozen CLIP + linear head), SAFE (Haar HH band)
and NPR (neighbouring-pixel residuals), built offline, with the filters they stand on checked on hand-made images."""

import subprocess
import sys
import textwrap

import huggingface_hub.constants
import numpy as np
import pytest
import torch
from PIL import Image

from deepart_hf.errors import DeepArtError, OfflineError
from deepart_hf.models import MODELS, create_model, freeze_backbone, load_trained
from deepart_hf.models.highpass_cnn import haar_dwt, high_pass, neighbouring_pixel_residual


@pytest.fixture(autouse=True)
def no_hub(monkeypatch, tmp_path):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))


def checkerboard(size=16) -> torch.Tensor:
    rows, columns = np.indices((size, size))
    return torch.tensor(((rows + columns) % 2).astype(np.float32)).expand(1, 3, size, size)


def test_haar_bands_of_a_constant_image_are_zero_and_of_a_checkerboard_all_diagonal():
    ll, lh, hl, hh = haar_dwt(torch.full((1, 3, 16, 16), 0.7))
    assert torch.allclose(ll, torch.full_like(ll, 1.4))  # orthonormal: the 2 x 2 sum / 2
    assert all(band.abs().max() == 0 for band in (lh, hl, hh))

    ll, lh, hl, hh = haar_dwt(checkerboard())
    assert lh.abs().max() == 0 and hl.abs().max() == 0
    assert torch.allclose(hh.abs(), torch.ones_like(hh))
    x = checkerboard()
    energy = sum(band.square().sum() for band in haar_dwt(x))
    assert torch.isclose(energy, x.square().sum())  # Parseval: nothing lost, nothing added


def test_haar_bands_separate_horizontal_and_vertical_stripes():
    stripes = torch.tensor(np.indices((8, 8))[0] % 2, dtype=torch.float32).expand(1, 1, 8, 8)  # alternating rows
    _, lh, hl, hh = haar_dwt(stripes)
    assert lh.abs().min() == 1 and hl.abs().max() == 0 and hh.abs().max() == 0
    _, lh, hl, hh = haar_dwt(stripes.transpose(-1, -2))
    assert hl.abs().min() == 1 and lh.abs().max() == 0 and hh.abs().max() == 0


def test_safe_input_is_the_hh_band_resized_back_and_npr_is_zero_on_flat_blocks():
    x = checkerboard()
    safe_input = high_pass(x, "haar_hh")
    assert safe_input.shape == x.shape and torch.allclose(safe_input.abs(), torch.ones_like(x))
    assert high_pass(x, "haar_all", upsample=False).shape == (1, 9, 8, 8)

    blocks = torch.rand(1, 3, 8, 8).repeat_interleave(2, -1).repeat_interleave(2, -2)  # every 2 x 2 block flat
    assert neighbouring_pixel_residual(blocks).abs().max() == 0
    residual = neighbouring_pixel_residual(x)
    assert residual[..., 0::2, 0::2].abs().max() == 0 and residual.abs().max() == 1


@pytest.mark.parametrize("name", ["clip-test", "safe", "npr"])
def test_recipes_build_offline_with_two_class_outputs(name):
    model, processor = create_model(name, from_scratch=True, image_size=32)
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8))
    pixel_values = processor(images=[image, image], return_tensors="pt")["pixel_values"]
    expected = (2, 1, 3, 32, 32) if MODELS[name].preprocess == "crop" else (2, 3, 32, 32)
    assert pixel_values.shape == expected
    with torch.no_grad():
        assert model.eval()(pixel_values).logits.shape == (2, 2)
        assert model(torch.rand(4, 3, 32, 32)).logits.shape == (4, 2)  # training views: one crop each


def test_safe_matches_the_papers_size_and_averages_crops():
    model, processor = create_model("safe", from_scratch=True, image_size=32, eval_crops=3)
    assert round(model.num_parameters() / 1e6, 2) == 1.44  # the 1.44M parameters SAFE reports
    assert (processor.crop_size, processor.eval_crops, processor.image_mean, processor.image_std) == (
        32,
        3,
        [0.0] * 3,
        [1.0] * 3,
    )
    crops = torch.rand(2, 3, 3, 32, 32)
    with torch.no_grad():
        per_crop = model.eval()(crops.flatten(0, 1)).logits.softmax(-1).view(2, 3, 2).mean(1)
        torch.testing.assert_close(model(crops).logits.softmax(-1), per_crop)


def test_clip_probe_freezes_all_but_the_head_and_uses_clips_own_processor():
    model, processor = create_model("clip-test", from_scratch=True, image_size=32)
    freeze_backbone(model)
    assert model.num_parameters(only_trainable=True) == model.classifier.weight.numel() + 2
    assert processor.do_center_crop and processor.size == {"shortest_edge": 32}
    assert (
        MODELS["clip-vit-l14-linear"].freeze_backbone
        and MODELS["clip-vit-l14-linear"].pretrained_id == "openai/clip-vit-large-patch14"
    )


def test_recipe_preprocessing_is_fixed_and_pretrained_clip_offline_is_one_line():
    with pytest.raises(DeepArtError, match="'safe' is a recipe with --preprocess crop; drop --preprocess resize"):
        create_model("safe", preprocess="resize")
    with pytest.raises(OfflineError, match="cannot download pretrained weights for 'clip-vit-l14-linear'"):
        create_model("clip-vit-l14-linear")


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("safe", {}),
        ("clip-test", {}),
        ("efficientnet-lite0", {"probe_stages": 3}),  # a multi-stage probe
        ("efficientnet-lite0", {"probe_stages": 3, "preprocess": "crop", "eval_crops": 2}),  # ... on native crops
        # a two-view probe: the native crop beside the backbone's 224-pixel resize of it
        ("efficientnet-lite0", {"probe_views": ("resize", "native"), "preprocess": "crop", "image_size": 240}),
    ],
)
def test_saved_recipes_load_with_trust_remote_code_and_no_deepart_hf(name, options, tmp_path):
    model, processor = create_model(name, from_scratch=True, **{"image_size": 32, **options})
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    image = Image.fromarray(np.random.default_rng(1).integers(0, 256, (40, 48, 3), dtype=np.uint8))
    image.save(tmp_path / "image.png")
    loaded, loaded_processor = load_trained(str(tmp_path))
    with torch.no_grad():
        expected = (
            loaded.eval()(**loaded_processor(images=[image], return_tensors="pt")).logits.softmax(-1)[0, 1].item()
        )
    script = textwrap.dedent(
        f"""
        import sys
        from transformers import pipeline
        classify = pipeline("image-classification", model={str(tmp_path)!r}, trust_remote_code=True)
        print({{s["label"]: s["score"] for s in classify({str(tmp_path / "image.png")!r})}}["ai"])
        assert not any(name.startswith("deepart_hf") for name in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout.split()[-1]) == pytest.approx(expected, abs=1e-6)
