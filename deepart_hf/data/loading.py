"""Hub folder or repo -> the splits a detector trains and is tested on, checked before any work.

A folder written by ``publish`` declares its configurations in its card. ``datasets`` caches such a folder
under its name alone, so after loading one folder called ``deepart`` a *different* folder called ``deepart``
would come back with the first one's data. So a published folder is read here with the Parquet builder and
its configuration's files, by absolute path: the cache is keyed by those files (paths and modification
times), two folders never mix, and the cache (with everything derived from it, such as resized images)
survives between runs until the folder is rebuilt.
"""

from __future__ import annotations

import glob
import logging
from pathlib import Path

from datasets import Dataset, DatasetDict, Image, Value, concatenate_datasets, load_dataset
from huggingface_hub import DatasetCard

from ..errors import DeepArtError, OfflineError
from .schema import CARD_METADATA_KEY, check_classification_features

logger = logging.getLogger(__name__)

SYNTHETIC_FOLDER = "deepart_hf-synthetic"  # under the datasets cache (HF_DATASETS_CACHE)


def synthetic_dataset_path(n_per_class: int, image_size: int, seed: int, generators: int = 0) -> Path:
    """Where the embedded default is built: a cache, so under the datasets cache, not the working directory."""
    import datasets.config

    name = f"synthetic-n{n_per_class}-s{image_size}-seed{seed}" + (f"-g{generators}" if generators else "")
    return Path(datasets.config.HF_DATASETS_CACHE) / SYNTHETIC_FOLDER / name


def ensure_synthetic(n_per_class: int, image_size: int, seed: int, generators: int = 0) -> Path:
    """Build the embedded default once; later runs reuse the folder (builds are deterministic). ``generators``:
    the multi-generator set that ``train.py --task attribution`` defaults to."""
    from .build import build
    from .publish import publish

    path = synthetic_dataset_path(n_per_class, image_size, seed, generators)
    if not (path / "README.md").is_file():
        result = build(
            "synthetic", n_per_class=n_per_class, image_size=image_size, seed=seed, extra={"generators": generators}
        )
        kind = f", {generators} generators" if generators else ""
        publish(
            result,
            path,
            overwrite=path.exists(),
            build_command=f"train.py (synthetic{kind}, {n_per_class} per class, {image_size} px, seed {seed})",
        )
    return path


def card_metadata(dataset: str) -> dict | None:
    """The YAML header of a dataset's card (a folder's README.md, or the Hub card); None if it cannot be read."""
    try:
        if Path(dataset).is_dir():
            readme = Path(dataset) / "README.md"
            return DatasetCard.load(readme).data.to_dict() if readme.is_file() else None
        return DatasetCard.load(dataset, repo_type="dataset").data.to_dict()
    except Exception as exc:  # offline, no card, a card that is not YAML: a missing card is not an error here
        logger.info("no dataset card for %s (%s)", dataset, exc)
        return None


def dataset_caveats(dataset: str) -> list[str] | None:
    """The caveats a build wrote into the dataset's card, whatever the folder is called; None without a card."""
    metadata = card_metadata(dataset)
    if metadata is None:
        return None
    return list((metadata.get(CARD_METADATA_KEY) or {}).get("caveats") or [])


def _published_parquet_files(folder: Path, config: str | None, where: str) -> dict[str, list[str]] | None:
    """{split: absolute Parquet paths} of a configuration declared in the folder's card, or None when the
    folder declares none (then ``datasets``' own folder conventions apply)."""
    configs = (card_metadata(str(folder)) or {}).get("configs") or []
    if not configs:
        return None
    names = [entry["config_name"] for entry in configs]
    if config is None:
        config = next(
            (entry["config_name"] for entry in configs if entry.get("default")),
            "default" if "default" in names else names[0],
        )
    if config not in names:
        raise DeepArtError(f"{where}: no configuration {config!r}; it has {', '.join(names)}")
    entry = configs[names.index(config)]
    files: dict[str, list[str]] = {}
    for item in entry.get("data_files") or []:
        split, patterns = item["split"], item["path"]
        for pattern in [patterns] if isinstance(patterns, str) else patterns:
            files.setdefault(split, []).extend(sorted(glob.glob(str(folder.resolve() / pattern))))
    if not files or not all(path.endswith(".parquet") for paths in files.values() for path in paths):
        return None
    empty = [split for split, paths in files.items() if not paths]
    if empty:
        raise DeepArtError(f"{where}: the card lists split(s) {', '.join(empty)} but no file matches them")
    return files


def load_splits(dataset: str, config: str | None = None, *, streaming: bool = False) -> DatasetDict:
    """load_dataset on a folder or Hub id, every failure as one line (``streaming``: an IterableDatasetDict,
    nothing downloaded or cached ahead)."""
    where = f"dataset {dataset!r}" + (f" (configuration {config!r})" if config else "")
    is_folder = Path(dataset).is_dir()
    if not is_folder and Path(dataset).suffix == "" and dataset.count("/") != 1:
        raise DeepArtError(f"{where}: no such folder, and not a Hub id (ORG/NAME)")
    try:
        if is_folder:
            files = _published_parquet_files(Path(dataset), config, where)
            if files is not None:
                return load_dataset("parquet", data_files=files, streaming=streaming)
            return load_dataset(str(Path(dataset).resolve()), config, streaming=streaming)
        return load_dataset(dataset, config, streaming=streaming)
    except DeepArtError:
        raise
    except ValueError as exc:
        raise DeepArtError(f"{where}: {str(exc).splitlines()[0]}") from None
    except Exception as exc:  # the Hub offline, a missing repo, a broken folder
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if not is_folder:
            raise OfflineError(
                f"{where} cannot be loaded from the Hub ({type(exc).__name__}: {message}); offline, pass a folder written by dataset_scripts/"
            ) from None
        raise DeepArtError(f"{where} cannot be loaded ({type(exc).__name__}: {message})") from None


def checked_split(
    splits: DatasetDict, name: str, where: str, max_samples: int | None = None, classes: list[str] | None = None
) -> Dataset:
    """The split ``name``, with undecoded images (transforms decode them and name a bad file); ``label`` must be
    ClassLabel(``classes``), human/ai by default."""
    if name not in splits:
        raise DeepArtError(f"{where} has no {name!r} split (it has {', '.join(splits) or 'none'})")
    split = splits[name]
    check_classification_features(split.features, f"{where}, split {name!r}", classes)
    if len(split) == 0:
        raise DeepArtError(f"{where}: split {name!r} is empty")
    if max_samples is not None:
        # shuffled first: splits are stored class by class, and "the first N" must keep both classes
        split = split.shuffle(seed=0).select(range(min(max_samples, len(split))))
    return split.cast_column("image", Image(decode=False))


DATASET_COLUMN = "dataset"  # which dataset a row of a mixed split comes from


def combine_datasets(parts: list[tuple[str, Dataset]]) -> Dataset:
    """One split from several datasets' splits: their ``image``, ``label`` and ``image_id`` columns (labels are
    the same ClassLabel everywhere, checked on loading), plus the name of the dataset each row comes from.
    A single part is returned as it is."""
    if len(parts) == 1:
        return parts[0][1]
    aligned = []
    for name, split in parts:
        ids = split["image_id"] if "image_id" in split.column_names else range(len(split))
        split = split.select_columns(["image", "label"])
        split = split.add_column("image_id", [f"{name}/{i}" for i in ids], feature=Value("string"))
        aligned.append(split.add_column(DATASET_COLUMN, [name] * len(split), feature=Value("string")))
    return concatenate_datasets(aligned)
