"""``train.py --streaming``: the splits as streams with the same transforms as ``run.prepare_data`` gives a
``Dataset`` (``data/streaming.py`` says how streams are opened, checked and split between processes)."""

from __future__ import annotations

from datasets import IterableDataset
from transformers import TrainingArguments

from ..constants import LABELS
from ..data.loading import load_splits
from ..data.streaming import StreamColumns, check_stream, node_split, stream_split
from ..errors import DeepArtError
from ..models.preprocessing import PixelValues
from .arguments import Arguments
from .augment import TrainTransform, training_augmentation
from .prepared_splits import Splits

# Each stream's source of example ids for predictions.csv: the checked stream before images are decoded.
IDS_ATTRIBUTE = "deepart_hf_ids"


def stream_columns(args: Arguments, classes=tuple(LABELS)) -> StreamColumns:
    data = args.data
    return StreamColumns.parse(data.image_column, data.label_column, data.label_map, classes)


def prepare_streams(args: Arguments, training: TrainingArguments, processor, classes=tuple(LABELS)):
    """The splits as IterableDatasets: train split by node and shuffled in a buffer."""
    data = args.data
    if not args.run.eval_only and training.max_steps <= 0:
        raise DeepArtError(
            "--streaming needs --max_steps N: a stream has no length, so the Trainer cannot count epochs"
        )
    where = f"dataset {data.dataset}" + (f" ({data.dataset_config})" if data.dataset_config else "")
    columns = stream_columns(args, classes)
    splits = load_splits(data.dataset, data.dataset_config, streaming=True)

    def checked(name: str, max_samples: int | None, split: IterableDataset | None = None) -> IterableDataset:
        stream = check_stream(
            split if split is not None else stream_split(splits, name, where), columns, f"{where}, split {name!r}"
        )
        return stream.take(max_samples) if max_samples else stream

    def evaluated(name: str) -> IterableDataset:
        stream = checked(name, data.max_eval_samples)
        pixels = stream.map(PixelValues(processor), batched=True, remove_columns=["image", "label"])
        setattr(pixels, IDS_ATTRIBUTE, stream)
        return pixels

    train = None
    if not args.run.eval_only:
        mine = node_split(
            stream_split(splits, data.train_split, where), training.process_index, training.world_size, where
        )
        train = checked(data.train_split, data.max_train_samples, mine).shuffle(
            seed=training.seed, buffer_size=data.shuffle_buffer
        )
        train = train.map(
            TrainTransform(processor, training_augmentation(data)), batched=True, remove_columns=["image", "label"]
        )
    evaluation = evaluated(data.eval_split) if data.eval_split and not args.run.eval_only else None
    test = evaluated(data.test_split)
    # A stream has no fingerprint to record; its location and columns are in the run's identity already.
    fingerprint = {name: f"streamed ({split.n_shards} shards)" for name, split in splits.items()}
    return Splits(train, evaluation, test, None, fingerprint)


def example_ids(dataset) -> list[str]:
    """The ids of a test split in prediction order: its ``image_id`` column, else row numbers."""
    source = getattr(dataset, IDS_ATTRIBUTE, None)
    if source is not None:
        return [
            str(row.get("image_id", index))
            for index, row in enumerate(
                source.select_columns(["image_id"]) if "image_id" in (source.column_names or []) else source
            )
        ]
    raw = dataset.with_format(None)
    return raw["image_id"] if "image_id" in raw.column_names else [str(i) for i in range(len(raw))]
