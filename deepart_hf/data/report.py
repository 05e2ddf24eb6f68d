"""What a build left out or noticed: every skipped file with its reason, so nothing is lost silently."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class SkippedFile:
    path: str
    reason: str


@dataclass
class BuildReport:
    """Everything a build left out, so nothing is lost silently."""

    source: str
    skipped: list[SkippedFile] = field(default_factory=list)
    unpaired: list[str] = field(default_factory=list)  # ids kept as single images but not paired
    notes: list[str] = field(default_factory=list)

    def skip(self, path: str | Path, reason: str) -> None:
        self.skipped.append(SkippedFile(str(path), reason))

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "skipped_count": len(self.skipped),
            "skipped": [vars(s) for s in self.skipped],
            "unpaired_count": len(self.unpaired),
            "unpaired": self.unpaired,
            "notes": self.notes,
        }
