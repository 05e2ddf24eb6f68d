"""deepart-hf cross-eval: does a detector trained on one source recognise another? One model per training
source (and with --leave_one_out one per "all sources but one"), each evaluated on every source's test split.

  deepart-hf cross-eval --dataset A --dataset B[@CONFIG] ... --model NAME --output_dir OUT [--leave_one_out] [train.py flags]
  deepart-hf cross-eval --dataset DATA --leave_one_generator_out --output_dir OUT --human_split 6:1:3

With --leave_one_generator_out, one dataset with a generator column is split by generator
(``research/generator_folds.py``): one model per generator, trained on the human images' training share and every
other generator, tested on the held-out generator and the held-out human images (one seeded split of the human
images for every fold); each fold's metrics with intervals and their mean.

Every other flag goes to train.py (for example --protocol deepart --from_scratch --preprocess crop). Writes
OUT/cross_source.json (each cell: every metric with its 95% interval), OUT/cross_source.md and
OUT/cross_source.png (heat maps of mean accuracy and AUROC); the trained runs stay in OUT/train-<sources>/.
"""

from __future__ import annotations

import argparse

from ..constants import DEFAULT_SEED, N_RESAMPLES

DEFAULT_HUMAN_SPLIT = "6:1:3"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset",
        action="append",
        required=True,
        help="a source (folder or Hub id, PATH@CONFIG); repeat, or a comma list",
    )
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--leave_one_out", action="store_true", help="also train one model on all sources but each one")
    parser.add_argument(
        "--leave_one_generator_out",
        action="store_true",
        help="one --dataset with a generator column: train on all generators but one (and human images), test on it",
    )
    parser.add_argument(
        "--human_split",
        default=DEFAULT_HUMAN_SPLIT,
        help="train:validation:test of the human images, the same in every generator fold",
    )
    parser.add_argument("--split_seed", type=int, default=DEFAULT_SEED, help="seed of the generator folds' split")
    parser.add_argument("--n_resamples", type=int, default=N_RESAMPLES)


PASSES_FLAGS_ON = True  # every flag cross-eval does not know goes to train.py


def main(args: argparse.Namespace, extra: list[str] | None = None) -> int:
    from .cross_source import main as run  # the work (numpy, torch, datasets...) loads here, not for --help

    return run(args, extra)
