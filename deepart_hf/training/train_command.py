"""deepart-hf train: fine-tune and evaluate a human-vs-AI image detector (``python train.py`` is the same).

    deepart-hf train                                    # the main job: synthetic set, small CNN, a few CPU minutes
    deepart-hf train --dataset data/deepart --protocol deepart --model resnet50
    deepart-hf train --eval_only --model_name_or_path outputs/run --dataset data/other
    deepart-hf train --all_flags                        # every flag, with its help

Every transformers TrainingArguments flag works (--output_dir, --num_train_epochs, --learning_rate, --bf16,
--resume_from_checkpoint, --push_to_hub, --hub_model_id, ...), beside the project's (--model, --dataset,
--protocol, --preprocess, --task, ...). The flags become one frozen config, run by ``deepart_hf.train``.
"""

from __future__ import annotations

import argparse

PASSES_FLAGS_ON = True  # every training flag is parsed by the training parser, not here


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--all_flags", action="store_true", help="list every training flag with its help, and exit")


def main(args: argparse.Namespace, extra: list[str] | None = None) -> int:
    # the training stack (torch, transformers, datasets) loads here, so that --help answers at once
    if args.all_flags:
        from .arguments import train_parser

        train_parser(prog="deepart-hf train").print_help()
        return 0
    return main_argv(list(extra or []), prog="deepart-hf train")


def main_argv(argv: list[str], prog: str = "deepart-hf train") -> int:
    """A training command line (without the program name): parse it into a config and run it."""
    from .arguments import parse_arguments

    config = parse_arguments(argv, prog)
    if config.run.list_models:
        from ..models import MODELS

        for name, spec in MODELS.items():
            print(f"{name:<16} {spec.description}")
        return 0
    from .run import train

    train(config)
    return 0
