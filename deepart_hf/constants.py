"""Project-wide constants. Every module imports labels from here so ids never drift."""

LABELS = ["human", "ai"]
LABEL2ID = {name: i for i, name in enumerate(LABELS)}
ID2LABEL = dict(enumerate(LABELS))
HUMAN, AI = LABEL2ID["human"], LABEL2ID["ai"]
# The class of a generator label (a ``generator`` ClassLabel) that means "not generated": P(ai) = 1 - P(real).
REAL_GENERATOR = "real"

DEFAULT_SPLIT_RATIO = "1:1:8"  # the DeepArt paper's train:validation:test
SPLITS = ("train", "validation", "test")
DEFAULT_SEED = 42

# Pillow format names we accept as images; anything else is reported and skipped.
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"}

# Every dataset folder a build writes holds this record; --overwrite replaces only a folder that holds it.
DATASET_MARKER = "deepart-hf-build.json"

# Bootstrap resamples: of each metric's interval (evaluation), and of each effect's interval (the fidelity study).
N_RESAMPLES = 1000
N_BOOTSTRAP = 2000
