"""The crop detector as saved with a model: fixed crops, averaged probabilities, loadable with transformers
alone (trust_remote_code) and after `import deepart_hf.models` (without it)."""

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from PIL import Image

from deepart_hf.models import create_model
from deepart_hf.models.crop_detector import CropImageProcessor, eval_crop_offsets

MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)


def random_image(height: int, width: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


def normalised(image: Image.Image) -> torch.Tensor:
    """What the model should see for these uint8 pixels: (C, H, W), scaled to [0, 1], then (x - mean) / std."""
    x = torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 255
    return (x - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]


def processor(crops: int = 1, size: int = 64) -> CropImageProcessor:
    return CropImageProcessor(crop_size=size, eval_crops=crops, image_mean=list(MEAN), image_std=list(STD))


def test_a_centre_crop_keeps_native_pixels():
    image = random_image(96, 128)
    (centre,) = processor(1)(image)["pixel_values"][0]
    torch.testing.assert_close(centre, normalised(image.crop((32, 16, 96, 80))))


def test_several_crops_are_fixed_and_spread_symmetrically():
    image = random_image(96, 128)
    five = processor(5)(image)["pixel_values"][0]
    assert five.shape == (5, 3, 64, 64)
    torch.testing.assert_close(five[0], normalised(image.crop((0, 0, 64, 64))))  # corners and centre, reading order
    torch.testing.assert_close(five[2], normalised(image.crop((32, 16, 96, 80))))
    torch.testing.assert_close(five[4], normalised(image.crop((64, 32, 128, 96))))
    assert torch.equal(processor(3)(image)["pixel_values"][0], five[[0, 2, 4]])  # centre and two opposite corners
    nine = processor(9)(image)["pixel_values"][0]
    assert torch.equal(nine[[0, 2, 4, 6, 8]], five)
    assert eval_crop_offsets(96, 128, 64, 1) == [(16, 32)]


def test_an_image_smaller_than_the_crop_is_reflect_padded():
    image = random_image(40, 50)
    (padded,) = processor(1)(image)["pixel_values"][0]
    assert padded.shape == (3, 64, 64)
    torch.testing.assert_close(padded[:, 12:52, 7:57], normalised(image))
    torch.testing.assert_close(padded[:, 11, 7:57], normalised(image)[:, 1])  # a mirror, not zeros


def test_a_batch_of_mixed_sizes_and_modes_stacks_per_image():
    images = [
        random_image(70, 90),
        random_image(200, 80, seed=1).convert("L"),
        random_image(64, 64, seed=2).convert("RGBA"),
    ]
    pixel_values = processor(5)(images)["pixel_values"]
    assert pixel_values.shape == (3, 5, 3, 64, 64) and pixel_values.dtype == torch.float32


def test_the_processor_saves_reloads_and_pickles(tmp_path):
    original = processor(5, size=48)
    original.save_pretrained(tmp_path)
    reloaded = CropImageProcessor.from_pretrained(tmp_path)
    image = random_image(100, 120)
    assert torch.equal(reloaded(image)["pixel_values"], original(image)["pixel_values"])
    assert torch.equal(pickle.loads(pickle.dumps(original))(image)["pixel_values"], original(image)["pixel_values"])


@pytest.fixture(scope="module")
def saved_crop_detector(tmp_path_factory):
    folder = tmp_path_factory.mktemp("crop-detector")
    torch.manual_seed(0)
    model, crop_processor = create_model("resnet10t", from_scratch=True, image_size=32, preprocess="crop", eval_crops=5)
    model.save_pretrained(folder)
    crop_processor.save_pretrained(folder)
    image = random_image(90, 70, seed=3)
    image.save(folder.parent / "painting.png")
    with torch.no_grad():
        expected = model.eval()(**crop_processor(image)).logits.softmax(-1)[0, 1].item()
    return folder, expected


@pytest.mark.parametrize("how", ["trust_remote_code", "import deepart_hf.models"])
def test_a_saved_crop_detector_runs_in_a_pipeline_in_a_fresh_process(saved_crop_detector, how):
    folder, expected = saved_crop_detector
    assert (folder / "crop_detector.py").is_file()  # the code travels with the weights
    if how == "trust_remote_code":
        setup, options = "", ", trust_remote_code=True"
    else:
        setup, options = "import deepart_hf.models", ""
    script = textwrap.dedent(
        f"""
        import builtins, sys
        builtins.input = lambda *a, **k: sys.exit("transformers asked whether to run remote code")
        {setup}
        from transformers import pipeline
        scores = pipeline("image-classification", model={str(folder)!r}{options})({str(folder.parent / "painting.png")!r})
        print({{s["label"]: s["score"] for s in scores}}["ai"])
        print(sorted(m for m in sys.modules if m.startswith("deepart_hf")) != [])
        """
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    prob_ai, deepart_imported = result.stdout.strip().splitlines()[-2:]
    assert float(prob_ai) == pytest.approx(expected, abs=1e-6)
    assert deepart_imported == str(how == "import deepart_hf.models")  # remote code needs nothing of deepart-hf


def test_a_saved_crop_detector_around_a_transformers_model_loads_as_remote_code_without_timm(tmp_path):
    torch.manual_seed(0)
    model, crop_processor = create_model("vit-test", from_scratch=True, image_size=32, preprocess="crop", eval_crops=3)
    folder = tmp_path / "vit-crops"
    model.save_pretrained(folder)
    crop_processor.save_pretrained(folder)
    # the probe's code travels with every crop detector, and asks for timm only where a probe is built
    assert (folder / "multi_stage.py").is_file()
    image = random_image(90, 70, seed=4)
    image.save(tmp_path / "painting.png")
    with torch.no_grad():
        expected = model.eval()(**crop_processor(image)).logits.softmax(-1)[0, 1].item()
    no_timm = tmp_path / "no-timm"
    no_timm.mkdir()
    (no_timm / "timm.py").write_text('raise ModuleNotFoundError("No module named \'timm\'", name="timm")\n')
    script = textwrap.dedent(
        f"""
        import sys
        from transformers import pipeline
        scores = pipeline("image-classification", model={str(folder)!r}, trust_remote_code=True)
        print({{s["label"]: s["score"] for s in scores({str(tmp_path / "painting.png")!r})}}["ai"])
        assert "timm" not in sys.modules and not any(name.startswith("deepart_hf") for name in sys.modules)
        """
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(no_timm)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert float(result.stdout.split()[-1]) == pytest.approx(expected, abs=1e-6)
