"""Caveats measured on the data itself at build time: the shortcuts a detector could take instead of learning
how an image was made. They go into the dataset card's metadata, where every model card trained on the
dataset reads them back, whatever the dataset's folder is called.
"""

from __future__ import annotations

from collections import Counter

from ..constants import LABELS

# A class "is" a format or a size when at least this share of its images has it.
DOMINANT_SHARE = 0.8


def _describe(counts: Counter) -> str:
    return ", ".join(f"{count} {value}" for value, count in counts.most_common())


def _dominant(counts: Counter) -> tuple[object, float]:
    value, count = counts.most_common(1)[0]
    return value, count / sum(counts.values())


def measured_caveats(records: list[dict]) -> list[str]:
    """Format, size and source confounds between the classes of ``records`` (rows of the image view)."""
    by_label = {name: [r for r in records if r["label"] == index] for index, name in enumerate(LABELS)}
    present = {name: rows for name, rows in by_label.items() if rows}
    caveats: list[str] = []
    if len(present) == len(LABELS):
        for column, noun, advice in (
            (
                "file_format",
                "File format",
                "a detector can score by compression alone; test it on images re-encoded alike",
            ),
            (
                "size",
                "Image size",
                "a detector can score by resolution or resampling traces; test it on resized images",
            ),
        ):
            counts = {name: Counter(_value(row, column) for row in rows) for name, rows in present.items()}
            dominant = {name: _dominant(c) for name, c in counts.items()}
            values = {value for value, _ in dominant.values()}
            if len(values) == len(LABELS) and all(share >= DOMINANT_SHARE for _, share in dominant.values()):
                described = "; ".join(f"{name} images: {_describe(counts[name])}" for name in LABELS)
                caveats.append(f"{noun} is confounded with the label ({described}): {advice}.")
    for name, rows in present.items():
        sources = Counter(row.get("source") for row in rows)
        if len(sources) == 1 and len(rows) > 1:
            caveats.append(
                f"Every {name} image comes from one source ({next(iter(sources))}): a detector may learn that source's "
                "style instead of how images are made; test it on other sources before trusting it."
            )
    return caveats


def _value(row: dict, column: str):
    if column == "size":
        return f"{row.get('width')}x{row.get('height')}"
    return row.get(column)
