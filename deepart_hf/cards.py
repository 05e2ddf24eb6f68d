"""Card templates live in the repository's cards/ folder and ship inside the package as deepart_hf.card_templates."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def template_path(name: str) -> Path:
    """Path of ``cards/<name>`` whether deepart_hf runs from a checkout or an installed wheel."""
    try:
        candidate = Path(str(resources.files("deepart_hf.card_templates") / name))
        if candidate.is_file():
            return candidate
    except ModuleNotFoundError:
        pass
    candidate = Path(__file__).resolve().parent.parent / "cards" / name
    if not candidate.is_file():
        raise FileNotFoundError(
            f"card template {name!r} not found (looked in deepart_hf.card_templates and {candidate.parent})"
        )
    return candidate


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
