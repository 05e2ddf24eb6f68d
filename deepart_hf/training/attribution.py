"""``train.py --task attribution``: which generator made this image, with the same models, protocols and Trainer.

Decisions:

* The target is a ClassLabel column (``--label_column``, default ``generator``: D-ANI's and the synthetic set's
  ``real`` + each generator). Its names become the head's classes (``id2label``), in the column's own order, so a
  class id means the same thing in the data, the model and the reports. Every dataset of a run must agree.
* The column is handed to the transforms as ``label`` (the human/ai ``label`` is dropped): the training and
  evaluation transforms, pre-resizing and streaming stay the detector's, unchanged.
* Without ``--dataset`` an attribution run trains on the synthetic set with ``SYNTHETIC_GENERATORS`` generators
  (gratings of period 2, 3, 4), built once like the binary default.
* Calibration (a temperature and a human/ai threshold baked into a 2-class head) and the robustness suite are
  binary and are skipped; the report says so.
"""

from __future__ import annotations

from datasets import ClassLabel, DatasetDict

from ..errors import DeepArtError

DETECTION, ATTRIBUTION = "detection", "attribution"
TASKS = (DETECTION, ATTRIBUTION)
GENERATOR_COLUMN = "generator"
SYNTHETIC_GENERATORS = 3  # the default attribution set: real + gratings of period 2, 3, 4
SKIPPED_FOR_ATTRIBUTION = (
    "calibration (temperature and human/ai threshold) and the robustness suite are binary-detector "
    "checks: skipped for an attribution model, whose human/ai decision is P(ai) = 1 - P(real) > 1/2"
)


def is_attribution(args) -> bool:
    return args.run.task == ATTRIBUTION


def synthetic_generators(run) -> int:
    """How many generators the default synthetic set has for this run's task (0: the binary set)."""
    return SYNTHETIC_GENERATORS if run.task == ATTRIBUTION else 0


def _given(argv: list[str], name: str) -> bool:
    spellings = {f"--{name}", f"--{name.replace('_', '-')}"}
    return any(token.split("=", 1)[0] in spellings for token in argv)


def resolve_attribution_defaults(run, data, argv: list[str]) -> None:
    """--task attribution: the target column defaults to ``generator``; a human/ai --label_map makes no sense."""
    if run.task != ATTRIBUTION:
        return
    if data.label_map:
        raise DeepArtError(
            "--label_map maps a column to human/ai; --task attribution learns the column's own classes, so drop it"
        )
    if not _given(argv, "label_column"):
        data.label_column = GENERATOR_COLUMN


def target_classes(features, column: str, where: str) -> list[str]:
    """The class names of ``column``, which must be a ClassLabel."""
    if features is None:
        raise DeepArtError(
            f"{where}: its columns are unknown before reading, so the classes of {column!r} cannot be read"
        )
    if column not in features:
        raise DeepArtError(
            f"{where} has no column {column!r} to attribute (columns: {', '.join(features)}); name it with --label_column"
        )
    feature = features[column]
    if not isinstance(feature, ClassLabel):
        raise DeepArtError(
            f"{where}: column {column!r} is {type(feature).__name__}, not a ClassLabel; --task attribution needs named classes"
        )
    return list(feature.names)


def attribution_classes(args, training) -> list[str]:
    """The head's classes: the --label_column ClassLabel's names, the same in every dataset of the run."""
    from ..data.loading import ensure_synthetic, load_splits

    data, found = args.data, None
    with training.main_process_first(desc="reading the classes to attribute"):
        if args.synthetic:
            ensure_synthetic(data.synthetic_n_per_class, data.synthetic_image_size, training.seed, SYNTHETIC_GENERATORS)
        for dataset, config in args.datasets:
            where = f"dataset {dataset}" + (f" ({config})" if config else "")
            splits = load_splits(dataset, config, streaming=data.streaming)
            classes = target_classes(next(iter(splits.values())).features, data.label_column, where)
            if found is not None and classes != found:
                raise DeepArtError(
                    f"{where}: column {data.label_column!r} has classes {classes}, another dataset of this run {found}"
                )
            found = classes
    return found


def as_target(splits: DatasetDict, column: str, where: str) -> DatasetDict:
    """The splits with ``column`` as their ``label`` (the human/ai one dropped), for the detector's transforms."""
    if column == "label":
        return splits
    renamed = {}
    for name, split in splits.items():
        target_classes(split.features, column, f"{where}, split {name!r}")
        renamed[name] = split.remove_columns([c for c in ("label",) if c in split.column_names]).rename_column(
            column, "label"
        )
    return DatasetDict(renamed)


def check_saved_classes(model, classes: list[str], where: str) -> None:
    """A trained model fine-tuned or evaluated for attribution must predict the data's classes, in its order."""
    from ..models import model_labels

    saved = model_labels(model.config)
    if saved != list(classes):
        raise DeepArtError(f"{where} predicts {saved}; the data's --label_column classes are {list(classes)}")
