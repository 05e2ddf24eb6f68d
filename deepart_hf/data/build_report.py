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
    hidden_count: int = 0  # .DS_Store, Thumbs.db, dotfiles, __MACOSX/: ignored, not bad
    duplicates: list[list[str]] = field(default_factory=list)  # image ids with identical decoded pixels
    near_duplicates: list[list[str]] = field(default_factory=list)  # image ids whose difference hashes are close
    leaks_moved: list[dict] = field(
        default_factory=list
    )  # {"image_ids", "from", "to"}: copies that were in different splits
    label_conflicts: list[list[str]] = field(default_factory=list)  # identical pixels under both labels
    copies_dropped: list[dict] = field(
        default_factory=list
    )  # {"image_id", "copy_of"}: a source's known re-publications

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
            "hidden_files_ignored": self.hidden_count,
            "duplicate_groups_count": len(self.duplicates),
            "duplicates": self.duplicates,
            "near_duplicate_groups_count": len(self.near_duplicates),
            "near_duplicates": self.near_duplicates,
            "leaks_moved_count": len(self.leaks_moved),
            "leaks_moved": self.leaks_moved,
            "label_conflicts": self.label_conflicts,
            "copies_dropped_count": len(self.copies_dropped),
            "copies_dropped": self.copies_dropped,
        }

    def duplicate_summary(self) -> str:
        """The counts a card and the console quote."""
        parts = [
            f"{len(self.duplicates)} group(s) of identical images ({sum(len(g) for g in self.duplicates)} images)",
            f"{len(self.leaks_moved)} cross-split leak(s) moved to one split",
        ]
        if self.near_duplicates:
            parts.append(f"{len(self.near_duplicates)} group(s) of near-duplicates")
        if self.label_conflicts:
            parts.append(f"{len(self.label_conflicts)} group(s) of identical images under both labels")
        if self.copies_dropped:
            parts.append(f"{len(self.copies_dropped)} known copies not published twice")
        return ", ".join(parts)
