"""Raw layouts the project can publish. Importing this package registers every source."""

from . import dalle_paintings, dani, deepart, folder, genres, synthetic  # noqa: F401  (each registers itself)
from .base import SOURCES, BuildReport, CardInfo, Collection, SourceOptions, register_source

__all__ = ["SOURCES", "BuildReport", "CardInfo", "Collection", "SourceOptions", "register_source"]
