"""The ``deepart-hf`` console script: one entry point, one subcommand per tool.

Each subcommand has a command module in its stage that provides ``add_arguments(parser)`` and ``main(args) -> int``;
a module that sets ``PASSES_FLAGS_ON = True`` receives the flags it does not know (for train.py) as
``main(args, extra)``. Only the chosen command's module is imported, and a command module is cheap to import (its
``main`` imports the work), so ``--help`` answers before torch, transformers or datasets load
(tests/test_cli.py checks it; benchmarks/cli_help.py times it).
Errors a user can fix (``DeepArtError``) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys

from .errors import DeepArtError

# name -> (module, one-line help). The module's docstring is the subcommand's description.
COMMANDS: dict[str, tuple[str, str]] = {
    "train": (
        "deepart_hf.training.train_command",
        "fine-tune and evaluate a detector (python train.py): protocols, every TrainingArguments flag",
    ),
    "build": (
        "deepart_hf.data.build_source_command",
        "build a dataset folder from a source: deepart, dani, genres, dalle_paintings, folder, synthetic",
    ),
    "evaluate": (
        "deepart_hf.evaluation.command",
        "validity report of a detector: intervals, calibrated decision, robustness",
    ),
    "calibrate": (
        "deepart_hf.evaluation.recalibrate_command",
        "re-fit a detector's decision threshold on images of your own collection; saves a new model",
    ),
    "cross-eval": (
        "deepart_hf.research.cross_source_command",
        "train on each source, test on every source: the cross-source matrix",
    ),
    "fidelity": (
        "deepart_hf.research.fidelity_command",
        "per-image fidelity features, human vs AI: tests, effect sizes, format control",
    ),
    "baselines": (
        "deepart_hf.research.baselines_command",
        "classical classifiers (SVM, trees, forest, KNN, logistic) on pixels or fidelity features",
    ),
    "few-shot": (
        "deepart_hf.research.few_shot_command",
        "accuracy and AUROC against training images per class, with the classical baselines",
    ),
    "predict": (
        "deepart_hf.inference.predict",
        "score image files, folders, globs or zip archives with a trained detector",
    ),
    "demo": ("deepart_hf.inference.demo_command", "a Gradio web demo of a trained detector"),
    "export": ("deepart_hf.inference.export_command", "a trained detector as an ONNX file, with its preprocessing"),
}


def build_parser(chosen: str | None = None) -> argparse.ArgumentParser:
    """Every subcommand is listed; only ``chosen``'s module is imported and given its arguments."""
    parser = argparse.ArgumentParser(prog="deepart-hf", description="Tools for detectors of AI-generated art.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        sub = commands.add_parser(
            name, help=help_text, allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        if chosen == name:
            module = importlib.import_module(module_name)
            sub.description = module.__doc__
            module.add_arguments(sub)
            sub.set_defaults(run=module.main, passes_flags_on=getattr(module, "PASSES_FLAGS_ON", False))
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv[0] if argv and argv[0] in COMMANDS else None)
    args, extra = parser.parse_known_args(argv)
    args.command_line = shlex.join(["deepart-hf", *argv])  # recorded by the studies beside their results
    if extra and not args.passes_flags_on:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return int((args.run(args, extra) if args.passes_flags_on else args.run(args)) or 0)
    except DeepArtError as error:
        print(f"deepart-hf {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
