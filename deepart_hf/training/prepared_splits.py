"""What the training path hands on from the data stage: the splits with their transforms, and what identifies them."""

from __future__ import annotations

from dataclasses import dataclass

from datasets import Dataset, IterableDataset


@dataclass
class Splits:
    train: Dataset | IterableDataset | None
    evaluation: Dataset | IterableDataset | None
    test: Dataset | IterableDataset  # with the model's transform set (and pre-resized in resize mode)
    # The test images as stored, in the same order, for the robustness checks, which must see full-size images;
    # None for a stream, which cannot be read twice cheaply (its report then has no perturbations).
    raw_test: Dataset | None
    fingerprint: dict
    # A stream's test split before its images are decoded, which still has the ids (None: read them from `test`).
    test_ids_source: IterableDataset | None = None
    # The source of each training row, when the sources are to weigh the same in training (None: each row once).
    train_sources: list[str] | None = None

    def test_ids(self) -> list[str]:
        """The ids of the test split in prediction order: its ``image_id`` column, else row numbers."""
        source = self.test_ids_source
        if source is not None:
            has_ids = "image_id" in (source.column_names or [])
            rows = source.select_columns(["image_id"]) if has_ids else source
            return [str(row.get("image_id", index)) for index, row in enumerate(rows)]
        raw = self.test.with_format(None)
        return raw["image_id"] if "image_id" in raw.column_names else [str(i) for i in range(len(raw))]
