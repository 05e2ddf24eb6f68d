"""User-facing errors: the command-line entry points print these as one line, no traceback."""


class DeepArtError(Exception):
    """An error caused by the user's input or environment, with a message that says what to fix."""


class SourceError(DeepArtError):
    """The raw source folder or a file in it cannot be used."""


class MetadataError(DeepArtError):
    """The poem metadata file is malformed or does not match the images."""


class PublishError(DeepArtError):
    """The output folder or the Hub push cannot be completed."""


class OfflineError(DeepArtError):
    """Something needs the Hugging Face Hub and the Hub cannot be reached."""


class LayoutError(SourceError):
    """The source folder does not have the layout its script reads (the builder looks for it further down)."""
