"""Helpers the tests share: where the real samples are, and small generated images and folders."""

import io
import shutil
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
DEEPART_SAMPLE = SHARED_DATA / "deepart"


def image_bytes(fmt: str = "PNG", size: int = 32, seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def png_value(pixels: np.ndarray, path: str = "Human/synthetic.png") -> dict:
    """An undecoded datasets Image value holding ``pixels`` as PNG."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return {"bytes": buffer.getvalue(), "path": path}


def random_pixels(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


# Training runs short enough for tests: one epoch, small batches, no workers, and the validity report without
# its perturbations (tests/evaluation/test_validity_report.py runs those).
FAST_TRAINING = [
    "--num_train_epochs",
    "1",
    "--per_device_train_batch_size",
    "4",
    "--per_device_eval_batch_size",
    "8",
    "--dataloader_num_workers",
    "0",
    "--max_eval_samples",
    "8",
    "--robustness",
    "none",
    "--n_resamples",
    "50",
]


def write_image(path: Path, fmt: str = "PNG", size: int = 32, seed: int | None = None) -> Path:
    """A random image; without a seed, one drawn from the path, so two files are never copies by accident
    (builds find identical images and would move or group them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(image_bytes(fmt, size, zlib.crc32(str(path).encode()) if seed is None else seed))
    return path


def copy_deepart_subset(sample: Path, dest: Path, painting_ids: list[str]) -> Path:
    """A DeepArt-layout folder with a few real pairs, for tests that damage or delete the source."""
    for folder in ("Human", "Aigc"):
        (dest / folder).mkdir(parents=True, exist_ok=True)
        for path in (sample / folder).iterdir():
            if path.stem in painting_ids:
                shutil.copy2(path, dest / folder / path.name)
    return dest


def card_familiarity_distances(run: Path, image: Path, monkeypatch) -> tuple[list[float], list[bool]]:
    """Run the model card's transformers-only familiarity code on one image, with the run folder standing in for
    its Hub repository: (distances, familiar flags) as the code computes them."""
    import re

    import huggingface_hub

    card = (run / "README.md").read_text()
    section = card.split("## Familiarity", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    code = code.replace(f'"{run.name}"', repr(str(run))).replace('"painting.png"', repr(str(image)))
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda repo, name: str(Path(repo) / name))
    namespace: dict = {}
    exec(compile(code, "model card", "exec"), namespace)  # the card's own example, run as a reader would
    return namespace["distance"].tolist(), (namespace["distance"] <= namespace["threshold"]).tolist()
