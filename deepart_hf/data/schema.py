"""The one schema of the project: every published dataset is typed by the Features built here.

A row of the image-classification view ("default", "mixed", a genre) always has the core columns;
each source adds its own columns (DeepArt its painting and poem fields, genres a ``genre`` column)
through ``image_features(extra)``, so column names and types are defined once.
"""

from __future__ import annotations

from datasets import ClassLabel, Features, Image, Value

from ..constants import LABELS, REAL_GENERATOR

LABEL_FEATURE = ClassLabel(names=LABELS)

# The key under which a dataset card's YAML holds what deepart-hf measured at build time (its caveats).
CARD_METADATA_KEY = "deepart_hf"

# Columns every image row has, whatever its source.
CORE_COLUMNS = {
    "image": Image(),
    "label": LABEL_FEATURE,
    "image_id": Value("string"),  # path of the file inside its source, e.g. "Human/Gushici-0.PNG"
    "source": Value("string"),  # who made the image: a painter, a generator, "synthetic-procedural"
    "file_format": Value("string"),  # Pillow's format name of the original bytes: PNG, JPEG, ...
    "width": Value("int32"),
    "height": Value("int32"),
}

# The poem metadata the DeepArt paper describes (section 3.1): the paper's name -> our column name.
POEM_COLUMNS_BY_PAPER_NAME = {
    "PoemID": "poem_id",
    "PoemText": "poem_text",
    "PoemTitle": "poem_title",
    "PoemDynasty": "poem_dynasty",
    "PoemAuthor": "poem_author",
    "Explanation": "explanation",
    "Commentary": "commentary",
}
POEM_COLUMNS = list(POEM_COLUMNS_BY_PAPER_NAME.values())
PAINTING_KEY_PAPER_NAME = "PaintingID"

DEEPART_COLUMNS = {
    "painting_id": Value("string"),
    "book": Value("string"),
    **{name: Value("string") for name in POEM_COLUMNS},
}

GENRE_COLUMNS = {"genre": Value("string")}

# A ``.txt`` sidecar beside an image becomes this column; a ``.json`` sidecar's scalar fields become
# columns named by their keys, and extra metadata columns keep their names: all of them are strings.
CAPTION_COLUMN = "caption"

# Fingerprints a record carries from the decode check to the duplicate check; never published.
PIXEL_HASH_KEY = "_pixel_hash"
NEAR_HASH_KEY = "_near_hash"
# The split a source's own folders put a record in ("train", "validation", "test"); never published.
UPSTREAM_SPLIT_KEY = "_upstream_split"


def string_columns(names) -> dict:
    """Columns that come from side files (sidecars, metadata tables) whose names the data chooses: all strings."""
    return {name: Value("string") for name in names}


# D-ANI's generator folders, in a fixed order so that a generator's id never changes between builds (whatever
# --generators keeps): the photographs first, then GANs, Stable Diffusion versions in release order, Versatile
# Diffusion, DALL-E 2 and 3.
DANI_GENERATORS = (
    REAL_GENERATOR,
    "DFGAN",
    "GALIP",
    "SD_V14",
    "SD_V15",
    "SD_V21",
    "SD_XL",
    "Versatile",
    "Dalle2",
    "Dalle3",
)


def synthetic_generator_names(generators: int) -> tuple[str, ...]:
    """The synthetic set's ``generator`` classes: ``real``, then one up-sampler per grating period 2, 3, ..."""
    return (REAL_GENERATOR, *(f"upsampler-p{period}" for period in range(2, generators + 2))) if generators else ()


# The column naming each image's generator (a ClassLabel, ``real`` first): D-ANI's, the synthetic set's, a folder's.
GENERATOR_COLUMN = "generator"

DANI_TASKS = ("T2I", "I2I", "TI2I")
DANI_ORIGINAL_TASK = "original"  # the `task` of a COCO photograph: it was not generated

DANI_COLUMNS = {
    GENERATOR_COLUMN: ClassLabel(names=list(DANI_GENERATORS)),
    "task": Value("string"),
    "resolution": Value("int32"),
    "coco_id": Value("int64"),
    "caption_id": Value("int64"),
    "caption": Value("string"),
}


def image_features(extra: dict | None = None) -> Features:
    """Features of an image-classification row: the core columns plus a source's own."""
    clash = set(extra or {}) & set(CORE_COLUMNS)
    if clash:
        raise ValueError(f"extra columns {sorted(clash)} would redefine core columns")
    return Features({**CORE_COLUMNS, **(extra or {})})


def deepart_pairs_features(extra: dict | None = None) -> Features:
    """One row per DeepArt painting: the human original beside its AI re-creation (plus extra metadata columns)."""
    return Features(
        {
            "painting_id": Value("string"),
            "book": Value("string"),
            "human_image": Image(),
            "ai_image": Image(),
            "human_file_format": Value("string"),
            "ai_file_format": Value("string"),
            "ai_source": Value("string"),
            **{name: Value("string") for name in POEM_COLUMNS},
            **(extra or {}),
        }
    )


def check_classification_features(features: Features, where: str, classes: list[str] | None = None) -> None:
    """Raise a clear error unless a dataset can train a human/ai detector (``classes``: a classifier of these)."""
    from ..errors import DeepArtError

    classes = list(classes) if classes is not None else LABELS
    if "image" not in features or "label" not in features:
        missing = [c for c in ("image", "label") if c not in features]
        raise DeepArtError(
            f"{where} has no {' or '.join(repr(m) for m in missing)} column (columns: {', '.join(features)})"
        )
    label = features["label"]
    if not isinstance(label, ClassLabel) or list(label.names) != classes:
        names = getattr(label, "names", label)
        raise DeepArtError(f"{where}: column 'label' must be ClassLabel{classes}, found {names}")


# What each column means, for dataset cards (one place, like the types above).
COLUMN_DESCRIPTIONS = {
    "image": "the image, original file bytes",
    "label": "who made it: human or ai",
    "image_id": "path of the file in the source collection",
    "source": "the painter or generator",
    "file_format": "format of the original bytes (PNG, JPEG, ...)",
    "width": "width in pixels",
    "height": "height in pixels",
    "painting_id": "DeepArt PaintingID (Gushici-N / Gushiwen-N), shared by a painting and its re-creation",
    "book": "the book the painting comes from",
    "poem_id": "PoemID from the paper's metadata (null when not supplied)",
    "poem_text": "the poem the painting illustrates",
    "poem_title": "its title",
    "poem_dynasty": "its dynasty",
    "poem_author": "its author",
    "explanation": "explanation of the poem",
    "commentary": "commentary on the poem",
    "genre": "subject genre of the image",
    CAPTION_COLUMN: "text of the `.txt` file beside the image",
    "generator": f"the generator that made the image, `{REAL_GENERATOR}` when none did (a photograph, a human-made image)",
    "task": "how it was prompted: T2I (caption), I2I (photograph), TI2I (both); `original` for the photograph",
    "resolution": "the resolution folder of the raw layout (224, 256, 512, 1024)",
    "coco_id": "COCO val2017 image id: the photograph and everything generated from it share it",
    "caption_id": "COCO caption id of the prompt (null for a photograph)",
    "caption": "the COCO caption used as prompt (null for a photograph)",
    "human_image": "the human painting",
    "ai_image": "its AI re-creation",
    "human_file_format": "format of the human painting's bytes",
    "ai_file_format": "format of the AI image's bytes",
    "ai_source": "the generator of the re-creation",
}
