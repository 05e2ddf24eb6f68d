"""``train.py --streaming``: the splits as streams with the same transforms as ``run.prepare_data`` gives a
``Dataset`` (``data/streaming.py`` says how streams are opened, checked and split between processes)."""

from __future__ import annotations

from datasets import IterableDataset

from ..data.loading import load_splits
from ..data.streaming import StreamColumns, check_stream, node_split, stream_split
from ..errors import DeepArtError
from ..models.preprocessing import PixelValues
from .augment import TrainTransform, training_augmentation
from .config import TrainConfig
from .prepared_splits import Splits
from .task import Task


def prepare_streams(config: TrainConfig, processor, task: Task) -> Splits:
    """The splits as IterableDatasets: train split by node and shuffled in a buffer."""
    data, training = config.data, config.training
    if not config.run.eval_only and training.max_steps <= 0:
        raise DeepArtError(
            "--streaming needs --max_steps N: a stream has no length, so the Trainer cannot count epochs"
        )
    where = f"dataset {data.dataset}" + (f" ({data.dataset_config})" if data.dataset_config else "")
    columns = StreamColumns.parse(data.image_column, data.label_column, data.label_map, task.classes)
    splits = load_splits(data.dataset, data.dataset_config, streaming=True)

    def checked(name: str, max_samples: int | None, split: IterableDataset | None = None) -> IterableDataset:
        stream = check_stream(
            split if split is not None else stream_split(splits, name, where), columns, f"{where}, split {name!r}"
        )
        return stream.take(max_samples) if max_samples else stream

    def evaluated(name: str) -> tuple[IterableDataset, IterableDataset]:
        """The stream with its pixels, and the checked stream it is read from (which still has the ids)."""
        stream = checked(name, data.max_eval_samples)
        return stream.map(PixelValues(processor), batched=True, remove_columns=["image", "label"]), stream

    train = None
    if not config.run.eval_only:
        mine = node_split(
            stream_split(splits, data.train_split, where), training.process_index, training.world_size, where
        )
        train = checked(data.train_split, data.max_train_samples, mine).shuffle(
            seed=training.seed, buffer_size=data.shuffle_buffer
        )
        train = train.map(
            TrainTransform(processor, training_augmentation(data)), batched=True, remove_columns=["image", "label"]
        )
    evaluation = evaluated(data.eval_split)[0] if data.eval_split and not config.run.eval_only else None
    test, test_ids_source = evaluated(data.test_split)
    # A stream has no fingerprint to record; its location and columns are in the run's identity already.
    fingerprint = {name: f"streamed ({split.n_shards} shards)" for name, split in splits.items()}
    return Splits(train, evaluation, test, None, fingerprint, test_ids_source)
