"""Hub folder or repo -> the splits a detector trains and is tested on, checked before any work."""

from __future__ import annotations

from pathlib import Path

from datasets import Dataset, DatasetDict, Image, load_dataset

from ..errors import DeepArtError, OfflineError
from .schema import check_classification_features

SYNTHETIC_ROOT = Path("data")


def synthetic_dataset_path(n_per_class: int, image_size: int, seed: int) -> Path:
    return SYNTHETIC_ROOT / f"synthetic-n{n_per_class}-s{image_size}-seed{seed}"


def ensure_synthetic(n_per_class: int, image_size: int, seed: int) -> Path:
    """Build the embedded default once; later runs reuse the folder (builds are deterministic)."""
    from .build import build
    from .publish import publish

    path = synthetic_dataset_path(n_per_class, image_size, seed)
    if not (path / "README.md").is_file():
        result = build("synthetic", n_per_class=n_per_class, image_size=image_size, seed=seed)
        publish(result, path, overwrite=path.exists(), build_command=f"train.py (synthetic, {n_per_class} per class, {image_size} px, seed {seed})")
    return path


def load_splits(dataset: str, config: str | None = None) -> DatasetDict:
    """load_dataset on a folder or Hub id, every failure as one line."""
    where = f"dataset {dataset!r}" + (f" (configuration {config!r})" if config else "")
    is_folder = Path(dataset).is_dir()
    if not is_folder and Path(dataset).suffix == "" and dataset.count("/") != 1:
        raise DeepArtError(f"{where}: no such folder, and not a Hub id (ORG/NAME)")
    try:
        if is_folder:
            # datasets 5.x caches a folder whose card declares `configs` under its folder name alone:
            # two different folders called "deepart" would share one cache entry. Re-read the Parquet.
            return load_dataset(str(Path(dataset).resolve()), config, download_mode="force_redownload")
        return load_dataset(dataset, config)
    except ValueError as exc:
        raise DeepArtError(f"{where}: {str(exc).splitlines()[0]}") from None
    except Exception as exc:  # the Hub offline, a missing repo, a broken folder
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if not is_folder:
            raise OfflineError(f"{where} cannot be loaded from the Hub ({type(exc).__name__}: {message}); offline, pass a folder written by dataset_scripts/") from None
        raise DeepArtError(f"{where} cannot be loaded ({type(exc).__name__}: {message})") from None


def checked_split(splits: DatasetDict, name: str, where: str, max_samples: int | None = None) -> Dataset:
    """The split ``name``, with undecoded images (transforms decode them and name a bad file)."""
    if name not in splits:
        raise DeepArtError(f"{where} has no {name!r} split (it has {', '.join(splits) or 'none'})")
    split = splits[name]
    check_classification_features(split.features, f"{where}, split {name!r}")
    if len(split) == 0:
        raise DeepArtError(f"{where}: split {name!r} is empty")
    if max_samples is not None:
        # shuffled first: splits are stored class by class, and "the first N" must keep both classes
        split = split.shuffle(seed=0).select(range(min(max_samples, len(split))))
    return split.cast_column("image", Image(decode=False))
