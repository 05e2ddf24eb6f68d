"""What differs between a detection run (human/ai) and an attribution run (which generator made this image):
one ``Task`` object, resolved once at the start of a run, decides it everywhere.

Attribution (``--task attribution``) decisions:

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

from dataclasses import dataclass

import numpy as np
from datasets import ClassLabel, DatasetDict

from ..constants import LABELS, REAL_GENERATOR
from ..errors import DeepArtError

DETECTION, ATTRIBUTION = "detection", "attribution"
TASKS = (DETECTION, ATTRIBUTION)
GENERATOR_COLUMN = "generator"
SYNTHETIC_GENERATORS = 3  # the default attribution set: real + gratings of period 2, 3, 4
SKIPPED_FOR_ATTRIBUTION = (
    "calibration (temperature and human/ai threshold) and the robustness suite are binary-detector "
    "checks: skipped for an attribution model, whose human/ai decision is P(ai) = 1 - P(real) > 1/2"
)


def synthetic_generators(task: str) -> int:
    """How many generators the default synthetic set has for this task (0: the binary set)."""
    return SYNTHETIC_GENERATORS if task == ATTRIBUTION else 0


@dataclass(frozen=True)
class Task:
    """Detection (classes human, ai) or attribution (the classes of a ClassLabel column)."""

    kind: str = DETECTION
    classes: tuple[str, ...] = tuple(LABELS)
    label_column: str = "label"

    @property
    def is_attribution(self) -> bool:
        return self.kind == ATTRIBUTION

    @property
    def head_classes(self) -> list[str] | None:
        """The classes a new model's head is built with (None: the detector's human/ai)."""
        return list(self.classes) if self.is_attribution else None

    @property
    def calibrates(self) -> bool:
        """Temperature and threshold are fitted for a human/ai head only."""
        return not self.is_attribution

    @property
    def validity_report(self) -> bool:
        """Intervals at a calibrated threshold and the robustness suite: binary-detector checks."""
        return not self.is_attribution

    @property
    def detects(self) -> bool:
        """Does the model give P(ai)? A detector does; an attribution model does when ``real`` is a class."""
        return not self.is_attribution or REAL_GENERATOR in self.classes

    @property
    def skipped(self) -> str | None:
        return SKIPPED_FOR_ATTRIBUTION if self.is_attribution else None

    def compute_metrics(self):
        """The Trainer's ``compute_metrics`` for evaluations during training."""
        from ..evaluation.attribution import make_attribution_compute_metrics
        from ..evaluation.metrics import make_compute_metrics

        return make_attribution_compute_metrics(self.classes) if self.is_attribution else make_compute_metrics()

    def target(self, splits: DatasetDict, where: str) -> DatasetDict:
        """The splits with the task's target as their ``label``."""
        return as_target(splits, self.label_column, where) if self.is_attribution else splits

    def check_model(self, model, where: str) -> None:
        """A trained model fine-tuned or evaluated for this task must predict the data's classes, in its order."""
        if self.is_attribution:
            check_saved_classes(model, self.classes, where)

    def score(self, logits, references, threshold_log_odds: float) -> TestScores:
        """The test metrics from the model's logits, with P(ai)'s log-odds where the model gives it."""
        from ..evaluation.attribution import attribution_metrics
        from ..evaluation.metrics import load_detector_metric
        from ..models.scores import attribution_log_odds_ai, decisions_at, log_odds_from_logits

        logits = np.asarray(logits, dtype=np.float64)
        references = np.asarray(references).astype(np.int64)
        if not self.is_attribution:
            log_odds = log_odds_from_logits(logits)
            predictions = decisions_at(log_odds, threshold_log_odds)
            metrics = load_detector_metric().compute(predictions=predictions, references=references, scores=log_odds)
            return TestScores(metrics, references, predictions, log_odds, references, None)
        metrics = attribution_metrics(logits, references, self.classes)
        log_odds = attribution_log_odds_ai(logits, self.classes) if self.detects else None
        is_ai = (references != self.classes.index(REAL_GENERATOR)).astype(np.int64) if self.detects else None
        from scipy.special import softmax

        return TestScores(metrics, references, logits.argmax(axis=1), log_odds, is_ai, softmax(logits, axis=1))

    def write_predictions(self, path, ids, scores: TestScores):
        """predictions.csv: the detector's columns, and every class's probability for attribution."""
        from ..evaluation.predictions import write_predictions_csv

        return write_predictions_csv(
            path,
            ids,
            scores.references,
            scores.predictions,
            scores.log_odds_ai,
            names=self.classes,
            class_probabilities=scores.class_probabilities,
        )

    def summary(self) -> dict:
        """What metrics.json says about the task."""
        fields = {"task": self.kind, "classes": list(self.classes)}
        if self.is_attribution:
            fields.update(label_column=self.label_column, skipped=SKIPPED_FOR_ATTRIBUTION)
        return fields

    @classmethod
    def from_summary(cls, summary: dict) -> Task:
        return cls(
            summary.get("task", DETECTION), tuple(summary.get("classes", LABELS)), summary.get("label_column", "label")
        )


@dataclass(frozen=True)
class TestScores:
    """A test split scored for a task: its metrics, true and predicted class ids, and the human-vs-AI view
    (P(ai)'s log-odds and the true is-ai ids; None for an attribution model without ``real``)."""

    metrics: dict
    references: np.ndarray
    predictions: np.ndarray
    log_odds_ai: np.ndarray | None
    is_ai: np.ndarray | None
    class_probabilities: np.ndarray | None  # attribution only

    @property
    def detection_metrics(self) -> dict | None:
        return self.metrics.get("detection") if self.class_probabilities is not None else self.metrics


def resolve_task(config) -> Task:
    """The run's task: detection, or attribution with the classes read from the data."""
    if config.run.task != ATTRIBUTION:
        return Task()
    return Task(ATTRIBUTION, tuple(attribution_classes(config)), config.data.label_column)


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


def attribution_classes(config) -> list[str]:
    """The head's classes: the --label_column ClassLabel's names, the same in every dataset of the run."""
    from ..data.loading import ensure_synthetic, load_splits

    data, training, found = config.data, config.training, None
    with training.main_process_first(desc="reading the classes to attribute"):
        if config.synthetic:
            ensure_synthetic(data.synthetic_n_per_class, data.synthetic_image_size, training.seed, SYNTHETIC_GENERATORS)
        for dataset, dataset_config in config.datasets:
            where = f"dataset {dataset}" + (f" ({dataset_config})" if dataset_config else "")
            splits = load_splits(dataset, dataset_config, streaming=data.streaming)
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
