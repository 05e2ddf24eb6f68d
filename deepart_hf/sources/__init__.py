"""Raw layouts the project can publish. Importing this package registers every source."""

from .base import SOURCES, BuildReport, CardInfo, Collection, SourceOptions, register_source

__all__ = ["SOURCES", "BuildReport", "CardInfo", "Collection", "SourceOptions", "register_source"]
