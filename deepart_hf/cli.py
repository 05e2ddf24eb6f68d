"""The ``deepart-hf`` console script: one entry point, one subcommand per tool.

Each subcommand lives in the module of its stage and provides ``add_arguments(parser)`` and ``main(args) -> int``;
it is imported only when chosen, so ``deepart-hf predict`` does not pay for matplotlib or scikit-image.
Errors a user can fix (``DeepArtError``) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import DeepArtError

# name -> (module, one-line help). The module's docstring is the subcommand's description.
COMMANDS: dict[str, tuple[str, str]] = {
    "predict": ("deepart_hf.inference.predict", "score image files, folders, globs or zip archives with a trained detector"),
    "demo": ("deepart_hf.inference.demo", "a Gradio web demo of a trained detector"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deepart-hf", description="Tools for detectors of AI-generated art.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = commands.add_parser(name, help=help_text, description=module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(sub)
        sub.set_defaults(run=module.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except DeepArtError as error:
        print(f"deepart-hf {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
