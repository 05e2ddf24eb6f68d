"""deepart-hf export: a trained detector as a file people can deploy without PyTorch's training stack.

    deepart-hf export --model RUN --format onnx --output_dir OUT
    deepart-hf predict --model OUT painting.png          # the same rows and decisions, scored by onnxruntime

Writes OUT/model.onnx (pixel_values -> logits, dynamic batch axis; a crop model's averaging over its crops and the
calibrated temperature are inside the graph), OUT/onnx_export.json (the preprocessing, the labels, the calibrated
threshold, how a score is read from the logits; also in model.onnx's metadata_props), and the detector's
config.json and preprocessor_config.json. Every registered architecture exports (ViT, the timm CNNs, GoogLeNet,
the CLIP probe, SAFE and NPR). Needs the onnx extra: pip install 'deepart-hf[onnx]'.
"""

from __future__ import annotations

import argparse

FORMATS = ("onnx",)
EXPORTERS = ("legacy", "dynamo")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="a trained detector: run folder or Hub id")
    parser.add_argument("--format", choices=FORMATS, default="onnx", help="the file format (default onnx)")
    parser.add_argument("--output_dir", required=True, help="folder for model.onnx and its metadata")
    parser.add_argument(
        "--exporter",
        choices=EXPORTERS,
        default="legacy",
        help="torch's TorchScript-based exporter (default: fast, needs only onnx) or torch.export's (needs onnxscript)",
    )
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset (default 18)")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier export in --output_dir")


def main(args: argparse.Namespace) -> int:
    from ..console import setup_console
    from .export import OPSET, export_onnx

    setup_console()
    metadata = export_onnx(
        args.model, args.output_dir, exporter=args.exporter, opset=args.opset or OPSET, overwrite=args.overwrite
    )
    shape = " x ".join(map(str, metadata["inputs"]["pixel_values"]["shape"]))
    calibration = metadata["calibration"]
    print(
        f"Wrote {args.output_dir}/model.onnx (opset {metadata['opset']}, input {shape}; "
        f"{metadata['preprocessing']['description']}; threshold P(ai) = {calibration['threshold_prob_ai']:.3f}, "
        f"temperature {calibration['temperature']:g} in the weights) and onnx_export.json"
    )
    return 0
