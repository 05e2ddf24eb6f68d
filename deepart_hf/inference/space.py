"""The demo a run folder carries: ``app.py`` + ``requirements.txt`` + a few example images, so that publishing a
detector also publishes its demo.

``train.py`` writes them at the end of a training run (``write_space_files``). ``python app.py`` in the run folder
starts the demo with the installed deepart-hf. On the Hub the code comes with it: ``--push_to_hub`` adds the
``deepart_hf`` package beside the model (``push_demo_code``), so the model repo runs as a Space once duplicated
into one, and ``--push_space ORG/NAME`` uploads the run as a Gradio Space whose README is a Space card and whose
model card is kept as ``MODEL_CARD.md`` (``push_space``). deepart-hf is not on PyPI, hence the vendored copy.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import tempfile
from pathlib import Path

from datasets import Dataset, Image

from ..constants import ID2LABEL
from ..files import atomic_destination
from ..hub import push_folder
from .demo import EXAMPLES_FOLDER

APP_FILE, REQUIREMENTS_FILE, MODEL_CARD_FILE = "app.py", "requirements.txt", "MODEL_CARD.md"
GRADIO_REQUIREMENT = "gradio>=6,<7"
EXAMPLES_PER_CLASS = 2
# what a Space does not need from a run folder: checkpoints, TensorBoard logs, the training record
SPACE_IGNORE = ["checkpoint-*", "unfrozen", "runs", "__pycache__", ".*"]

APP_SOURCE = '''"""Web demo of this detector (written by deepart-hf). Runs as a Hugging Face Space, or locally: python app.py"""

from pathlib import Path

from deepart_hf.inference.demo import build_demo

demo = build_demo(Path(__file__).resolve().parent)

if __name__ == "__main__":
    demo.launch()
'''


def requirements() -> list[str]:
    """deepart-hf's own runtime requirements (what the vendored package imports), and Gradio."""
    try:
        required = importlib.metadata.requires("deepart-hf") or []
    except importlib.metadata.PackageNotFoundError:
        required = []
    return [line for line in required if "extra ==" not in line and not line.startswith("gradio")] + [
        GRADIO_REQUIREMENT
    ]


def write_space_files(run_dir: str | Path, test: Dataset | None = None) -> list[Path]:
    """app.py, requirements.txt and (from ``test``, the stored test split) examples/ with a few images per class."""
    run_dir = Path(run_dir)
    written = []
    for name, text in ((APP_FILE, APP_SOURCE), (REQUIREMENTS_FILE, "\n".join(requirements()) + "\n")):
        with atomic_destination(run_dir / name) as temporary:
            temporary.write_text(text, encoding="utf-8")
        written.append(run_dir / name)
    if test is not None:
        written += write_examples(run_dir / EXAMPLES_FOLDER, test)
    return written


def write_examples(folder: Path, test: Dataset) -> list[Path]:
    """The first EXAMPLES_PER_CLASS test images of each class (human/ai, or an attribution run's generators),
    their original bytes, named by class."""
    # the stored rows, not what a transform set for evaluation makes of them (pixel values and "labels")
    stored = test.with_format(None).cast_column("image", Image(decode=False))
    feature = stored.features["label"]
    names = dict(enumerate(feature.names)) if hasattr(feature, "names") else ID2LABEL
    written, taken = [], dict.fromkeys(names, 0)
    for index, label in enumerate(stored["label"]):
        if taken[label] >= EXAMPLES_PER_CLASS:
            continue
        value = stored[index]["image"]
        data = value["bytes"] if value.get("bytes") is not None else Path(value["path"]).read_bytes()
        path = folder / f"{names[label]}-{Path(value.get('path') or f'{index}.png').name}"
        with atomic_destination(path) as temporary:
            temporary.write_bytes(data)
        written.append(path)
        taken[label] += 1
        if all(count >= EXAMPLES_PER_CLASS for count in taken.values()):
            break
    return written


def package_source() -> Path:
    return Path(__file__).resolve().parents[1]


def stage_package(destination: Path) -> Path:
    """A copy of the running deepart_hf package (no caches) at destination/deepart_hf."""
    return Path(
        shutil.copytree(
            package_source(), destination / "deepart_hf", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    )


def space_card(title: str, model_card: Path) -> str:
    import gradio

    description = "Model card: MODEL_CARD.md" if model_card.is_file() else "No model card was written for this run."
    return (
        f"---\ntitle: {title}\nsdk: gradio\nsdk_version: {gradio.__version__}\napp_file: {APP_FILE}\npinned: false\n"
        f"tags:\n- ai-generated-image-detection\n- deepart-hf\n---\n\n# {title}\n\nA demo of a detector of AI-generated art "
        f"trained with deepart-hf. {description}\n"
    )


def stage_space(run_dir: str | Path, destination: Path, title: str) -> Path:
    """The folder a Space is pushed from: the run (model, figures, app, examples), its package, a Space card."""
    run_dir = Path(run_dir)
    staged = Path(shutil.copytree(run_dir, destination / "space", ignore=shutil.ignore_patterns(*SPACE_IGNORE)))
    if (staged / "README.md").is_file():
        (staged / "README.md").rename(staged / MODEL_CARD_FILE)
    (staged / "README.md").write_text(space_card(title, staged / MODEL_CARD_FILE), encoding="utf-8")
    if not (staged / APP_FILE).is_file():
        write_space_files(staged)
    stage_package(staged)
    return staged


def push_space(run_dir: str | Path, repo_id: str, *, token: str | None = None, private: bool = False) -> str:
    with tempfile.TemporaryDirectory() as temporary:
        staged = stage_space(run_dir, Path(temporary), repo_id.split("/")[-1])
        url = push_folder(
            staged,
            repo_id,
            repo_type="space",
            private=private,
            token=token,
            commit_message="Demo of a deepart-hf detector",
        )
    print(f"Pushed the demo Space to {url}")
    return url


def push_demo_code(repo_id: str, *, token: str | None = None) -> str:
    """The deepart_hf package beside a pushed model, which its app.py imports when the repo runs as a Space."""
    with tempfile.TemporaryDirectory() as temporary:
        stage_package(Path(temporary))
        return push_folder(temporary, repo_id, token=token, commit_message="Code of the demo (deepart-hf)")
