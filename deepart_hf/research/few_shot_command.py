"""Few-shot learning curve: a detector trained on k images per class, tested on the full test split, for several k
and seeds, beside the classical baselines trained on the same images.

    deepart-hf few-shot --dataset data/deepart --model resnet18 --shots 1,2,5,10,20,all --seeds 3 \\
        --output_dir outputs/few-shot --num_train_epochs 10

Any train.py flag after these is passed to every training run (the run's --dataset, --model, --seed and
--output_dir are set here). The k images per class are drawn from the training split whole group by whole group
(a DeepArt painting brings its re-creation along), with the seed; `all` is the whole training split. Each run
is train.py's own (transforms, Trainer, report) in OUT/runs/k<k>-seed<s>/, on a dataset folder that holds the
k-shot training split and the full validation and test splits (OUT/data/). An interrupted study resumes: a
finished run recorded with the same arguments is read back, not trained again.

Writes few_shot.json, few_shot.png (accuracy and AUROC, mean ± sd over seeds, against k) and report.md.
"""

from __future__ import annotations

import argparse

from .baselines_command import DEFAULT_PIXELS, FEATURE_SETS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help="dataset folder written by dataset_scripts/, or a Hub id")
    parser.add_argument("--config", default=None, help="configuration (an image-classification one)")
    parser.add_argument("--model", required=True, help="registry name (train.py --list_models) or Hub id")
    parser.add_argument(
        "--shots",
        default="1,2,5,10,20,all",
        help="images per class, comma-separated; `all` for the whole training split",
    )
    parser.add_argument("--seeds", type=int, default=3, help="draws (and training seeds) per k (default 3)")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument(
        "--baseline_features",
        choices=(*FEATURE_SETS, "none"),
        default="pixels",
        help="what the classical baselines see (default pixels)",
    )
    parser.add_argument("--pixels", type=int, default=DEFAULT_PIXELS, help="side of the baselines' downscaled images")
    parser.add_argument(
        "--workers", type=int, default=2, help="processes computing fidelity features for the baselines"
    )
    parser.add_argument("--overwrite", action="store_true", help="start the study again, removing its earlier runs")


PASSES_FLAGS_ON = True  # every flag few-shot does not know goes to train.py


def main(args: argparse.Namespace, extra: list[str] | None = None) -> int:
    from .few_shot import main as run  # the work (numpy, torch, datasets...) loads here, not for --help

    return run(args, extra)
