"""deepart-hf demo: a web demo of a trained detector (Gradio). Drop or paste an image, see P(ai) and P(human),
the decision at the calibrated threshold in words, and for crop models a heat map of P(ai) per crop over the
image. With a generator-attribution model the label shows every class's probability (``real`` and each generator) instead.

    deepart-hf demo --model outputs/run              # http://127.0.0.1:7860
    deepart-hf demo --model ORG/detector --share     # a public gradio.live link for 72 hours

Beside it: the run's key figures (evaluation.json when the run has one, else metrics.json), so nobody takes a
score for a verdict. A file that is not an image, is truncated or too large shows a message; the server goes on.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .decisions import add_uncertain_argument

DEFAULT_PORT = 7860


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="a trained detector: run folder, Hub id, or an ONNX export")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"local port (default {DEFAULT_PORT}; 0 = any free port)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 to serve the network)")
    parser.add_argument("--share", action="store_true", help="also open a temporary public link through gradio.live")
    add_uncertain_argument(parser)
    parser.add_argument(
        "--examples", nargs="*", type=Path, help="example images to click (default: the run folder's examples/)"
    )


def main(args: argparse.Namespace) -> int:
    from ..console import setup_console
    from .demo import build_demo

    setup_console()
    demo = build_demo(args.model, examples=args.examples, uncertain=args.uncertain)
    demo.launch(server_name=args.host, server_port=args.port or None, share=args.share)
    return 0
