"""train.py --streaming on local Parquet files read by load_dataset(..., streaming=True): foreign columns,
label maps, checks on the first rows, and two processes that each read their own rows."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
from datasets import Dataset, Features, Image, Value

from deepart_hf.constants import AI, HUMAN
from deepart_hf.data.loading import load_splits
from deepart_hf.data.streaming import StreamColumns, check_stream
from deepart_hf.errors import DeepArtError
from deepart_hf.models.familiarity import REFERENCE_FILE, Familiarity
from helpers import REPO, image_bytes
from train import main as train_main

SPLITS = {"train": (16, 4), "validation": (8, 1), "test": (6, 1)}  # rows, Parquet shards


@pytest.fixture(scope="module")
def foreign(tmp_path_factory):
    """A dataset deepart-hf did not build: images in `img`, the label as text in `kind`."""
    root = tmp_path_factory.mktemp("foreign")
    features = Features({"img": Image(), "kind": Value("string"), "image_id": Value("string")})
    for split, (rows, shards) in SPLITS.items():
        ds = Dataset.from_dict(
            {"img": [{"bytes": image_bytes("PNG", 32, i), "path": None} for i in range(rows)],
             "kind": ["real" if i % 2 else "fake" for i in range(rows)], "image_id": [f"{split}-{i}" for i in range(rows)]},
            features=features,
        )  # fmt: skip
        (root / "data").mkdir(exist_ok=True)
        for k in range(shards):
            ds.shard(shards, k, contiguous=True).to_parquet(
                str(root / "data" / f"{split}-{k:05d}-of-{shards:05d}.parquet")
            )
    return root


def test_foreign_columns_stream_into_class_ids(foreign):
    splits = load_splits(str(foreign), streaming=True)
    assert splits["train"].n_shards == 4  # streamed from the files, nothing loaded
    stream = check_stream(splits["train"], StreamColumns.parse("img", "kind", "real=human,*=ai"), "foreign")
    rows = list(stream)
    assert [r["label"] for r in rows] == [0 if i % 2 else 1 for i in range(16)]
    assert set(rows[0]) == {"image", "label", "image_id"} and rows[0]["image"]["bytes"][:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "columns, message",
    [
        (("img", "kind", None), "column 'kind' has values fake, real in its first 16 rows; fake, real map to no class"),
        (("img", "kind", "real=human"), "fake map to no class (human, ai). e.g. --label_map fake=human,*=ai"),
        (
            ("picture", "kind", None),
            "has no image column 'picture' (columns: img, kind, image_id); name it with --image_column",
        ),
        (("kind", "kind", "real=human,fake=ai"), "column 'kind' does not hold images (found str)"),
    ],
)
def test_wrong_columns_or_unmapped_values_are_one_line_naming_them(foreign, columns, message):
    with pytest.raises(DeepArtError) as error:
        check_stream(load_splits(str(foreign), streaming=True)["train"], StreamColumns.parse(*columns), "foreign")
    assert message in str(error.value)


def test_train_streams_a_foreign_dataset_end_to_end(foreign, tmp_path, capsys):
    out = tmp_path / "run"
    common = [
        "--dataset",
        str(foreign),
        "--streaming",
        "--image_column",
        "img",
        "--label_column",
        "kind",
        "--label_map",
        "real=human,fake=ai",
        "--model",
        "vit-test",
        "--from_scratch",
        "--image_size",
        "32",
        "--per_device_train_batch_size",
        "4",
        "--dataloader_num_workers",
        "0",
        "--output_dir",
        str(out),
        "--keep_checkpoints",  # read below
    ]
    assert train_main(common) == 2
    assert "--streaming needs --max_steps" in capsys.readouterr().err
    assert train_main([*common, "--max_steps", "3"]) == 0
    predictions = (out / "predictions.csv").read_text().splitlines()
    assert predictions[1:] and [line.split(",")[0] for line in predictions[1:]] == [f"test-{i}" for i in range(6)]
    summary = json.loads((out / "metrics.json").read_text())
    assert (summary["test"]["n"], summary["test"]["n_human"], summary["test"]["n_ai"]) == (
        6,
        3,
        3,
    )  # the whole test stream
    state = json.loads(next(out.glob("checkpoint-3/trainer_state.json")).read_text())
    assert state["global_step"] == 3 and any("eval_loss" in entry for entry in state["log_history"])
    # a stream's training split is read through its augmentation: the familiarity is its validation images'
    familiarity = Familiarity.load(out)
    assert familiarity.size == 8 and familiarity.labels.tolist() == [HUMAN if i % 2 else AI for i in range(8)]
    assert "Familiarity (familiarity.safetensors): 8 training/validation images stored" in capsys.readouterr().out
    # the test stream, read once, has its familiarity from the features of the pass that predicted it
    reference = json.loads((out / REFERENCE_FILE).read_text())
    assert reference["ids"] == [f"test-{i}" for i in range(6)] and len(reference["distances"]) == 6
    report = json.loads((out / "evaluation.json").read_text())["familiarity"]
    assert report["n_unfamiliar"] == sum(d > familiarity.threshold for d in reference["distances"])


SEEN_ROWS = textwrap.dedent(
    """
    import json, sys
    import torch
    from transformers import TrainingArguments
    from deepart_hf.data.loading import load_splits
    from deepart_hf.data.streaming import StreamColumns, check_stream, node_split
    from deepart_hf.training.trainer import DetectorTrainer

    dataset, out = sys.argv[1], sys.argv[2]
    args = TrainingArguments(output_dir=out, use_cpu=True, ddp_backend="gloo", per_device_train_batch_size=3, max_steps=1,
                             dataloader_num_workers=0, report_to="none", remove_unused_columns=False)
    train = load_splits(dataset, streaming=True)["train"]
    mine = check_stream(node_split(train, args.process_index, args.world_size, "foreign"), StreamColumns.parse("img", "kind", "real=human,fake=ai"), "foreign")
    trainer = DetectorTrainer(model=torch.nn.Linear(1, 1), args=args, train_dataset=mine.shuffle(seed=0, buffer_size=8), split_by_node=True,
                              data_collator=lambda rows: {"ids": [r["image_id"] for r in rows]})
    ids = [i for batch in trainer.get_train_dataloader() for i in batch["ids"]]
    json.dump(ids, open(f"{out}/rank{args.process_index}.json", "w"))
    """
)


def test_two_processes_each_read_their_own_rows(foreign, tmp_path):
    """torchrun, gloo: split_dataset_by_node gives each process 2 of the 4 shards, and the Trainer's dataloader
    does not split them again: the processes see disjoint rows that together are the whole split."""
    script = tmp_path / "seen_rows.py"
    script.write_text(SEEN_ROWS)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port), str(script), str(foreign), str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    seen = [set(json.loads((tmp_path / f"rank{rank}.json").read_text())) for rank in (0, 1)]
    assert seen[0] and seen[1] and not seen[0] & seen[1]
    assert seen[0] | seen[1] == {f"train-{i}" for i in range(16)}
