"""A saved detector as an ONNX file people can deploy, and that file scored again through onnxruntime.

``export_onnx(RUN, OUT)`` (``deepart-hf export --format onnx``) writes to OUT:

* ``model.onnx``: ``pixel_values`` -> ``logits`` and ``features`` (the (batch, D) features the head read, a crop
  model's averaged over its crops: what familiarity measures distances on), with a dynamic batch axis. A resize
  model takes (batch, 3, S, S); a crop model takes (batch, crops, 3, S, S) and averages its crops' probabilities
  inside the graph (the log of the mean, as ``CropDetector`` returns it). The calibration's temperature is divided into the head's weights
  when it is fitted, so it is inside the graph as well: softmax(logits) are the calibrated probabilities.
* ``config.json`` and ``preprocessor_config.json``: the detector's config (labels, calibration) and image
  processor, exactly as saved with it, so that ``load_detector(OUT)`` preprocesses with the same code.
* ``onnx_export.json``: what a consumer without deepart-hf needs: the input and output shapes, the preprocessing
  (size, mean, std, interpolation; or crop size, count and padding), the labels, the calibrated threshold and
  temperature, and how a score is read from the logits. The same JSON is in ``model.onnx``'s metadata_props.
* ``familiarity.safetensors`` when the detector carries one, so that the export's predictions say how far each
  image lies from the training images, as the PyTorch model's do.

``load_detector(OUT)`` or ``load_detector(OUT / "model.onnx")`` gives a ``Detector`` whose backend is an
onnxruntime session (``OnnxBackend``): ``predict``, ``predict_rows``, ``deepart-hf predict`` and the demo give
the same rows and decisions as for the PyTorch model, within float32 rounding.

Every registered architecture exports (ViT, the timm CNNs, GoogLeNet, the CLIP probe, SAFE and NPR with their
high-pass filters in the graph). The exporter is torch's TorchScript-based one by default: it needs only the
``onnx`` package and exports a small model in seconds; ``exporter="dynamo"`` uses ``torch.export`` (needs
``onnxscript``) and gives the same numbers, three to four times slower to export.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import torch
from transformers import AutoConfig, AutoImageProcessor, BaseImageProcessor, PreTrainedConfig

from ..errors import DeepArtError
from ..files import atomic_destination, write_json
from ..models import check_detector_labels, model_labels
from ..models.calibration import Calibration
from ..models.crop_detector import CropImageProcessor
from ..models.familiarity import FAMILIARITY_FILE, REFERENCE_FILE, Familiarity
from ..models.features import image_features, logits_and_features
from ..models.preprocessing import preprocessing_metadata
from .export_command import EXPORTERS

ONNX_FILE = "model.onnx"
METADATA_FILE = "onnx_export.json"
METADATA_KEY = "deepart_hf"  # the metadata_props entry holding the same JSON as METADATA_FILE
OPSET = 18  # supported by both exporters and by onnxruntime >= 1.14
INPUT, OUTPUT = "pixel_values", "logits"
FEATURES = "features"  # the second output: the (batch, D) features the head read, what familiarity measures
WRITTEN = (ONNX_FILE, METADATA_FILE, "config.json", "preprocessor_config.json", FAMILIARITY_FILE, REFERENCE_FILE)
INSTALL_HINT = "install the onnx extra: pip install 'deepart-hf[onnx]'"


class _LogitsAndFeatures(torch.nn.Module):
    """The detector's forward pass as plain tensors, what an ONNX graph can hold: pixel values in, the logits and
    the image features its head read (a crop model's averaged over its crops) out."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, features = logits_and_features(self.model, pixel_values)
        return logits.float(), features


def export_onnx(
    path_or_id: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    exporter: str = "legacy",
    opset: int = OPSET,
    overwrite: bool = False,
) -> dict:
    """Export a saved detector (run folder or Hub id) to ``output_dir``; returns the metadata written beside it."""
    from .detector import load_detector

    if exporter not in EXPORTERS:
        raise DeepArtError(f"unknown exporter {exporter!r}; choose one of {', '.join(EXPORTERS)}")
    out = Path(output_dir)
    if onnx_export_folder(path_or_id) is not None:
        raise DeepArtError(f"{path_or_id} is an ONNX export already; export from the run folder or Hub id")
    check_output_dir(out, overwrite)
    _require("onnx", "export to ONNX")
    if exporter == "dynamo":
        _require("onnxscript", "export with the dynamo exporter")
    detector = load_detector(path_or_id, device="cpu")
    model, processor = detector.model, detector.processor
    example = _example_input(processor)
    metadata = onnx_metadata(
        model.config,
        processor,
        source=str(path_or_id),
        exporter=exporter,
        opset=opset,
        features=image_features(model, example).shape[1],
        familiarity=detector.familiarity,
    )

    out.mkdir(parents=True, exist_ok=True)
    with atomic_destination(out / ONNX_FILE) as temporary:
        _export(_LogitsAndFeatures(model).eval(), example, temporary, exporter, opset, str(path_or_id))
        _add_metadata(temporary, metadata)
        # the config and processor as the detector saved them, so the export preprocesses with the same code;
        # model.onnx appears last, so a folder that has it is a whole export
        model.config.save_pretrained(out)
        processor.save_pretrained(out)
        if detector.familiarity is not None:
            detector.familiarity.save(out)
        else:  # an earlier export's file would describe another model
            (out / FAMILIARITY_FILE).unlink(missing_ok=True)
        reference = Path(path_or_id) / REFERENCE_FILE
        if reference.is_file():
            shutil.copyfile(reference, out / REFERENCE_FILE)
        else:
            (out / REFERENCE_FILE).unlink(missing_ok=True)
        write_json(out / METADATA_FILE, metadata)
    return metadata


def check_output_dir(out: Path, overwrite: bool) -> None:
    """Refuse to write over files this tool did not write (a run folder's config.json), or over an earlier
    export unless asked."""
    present = [name for name in WRITTEN if (out / name).exists()]
    if not present:
        return
    if not (out / METADATA_FILE).is_file():
        raise DeepArtError(f"{out} holds {', '.join(present)} that no export wrote; choose another --output_dir")
    if not overwrite:
        raise DeepArtError(f"{out} holds an ONNX export already; pass --overwrite to replace it")


def _require(module: str, what: str) -> None:
    try:
        __import__(module)
    except ImportError:
        raise DeepArtError(f"cannot {what}: the {module} package is missing; {INSTALL_HINT}") from None


def _example_input(processor: BaseImageProcessor) -> torch.Tensor:
    """Two images' worth of pixel values (two, so no exporter mistakes the batch axis for a constant 1)."""
    shape = onnx_input_shape(processor, batch=2)
    return torch.zeros(shape, dtype=torch.float32)


def onnx_input_shape(processor: BaseImageProcessor, batch: int | str = "batch") -> list:
    """The exported graph's input shape: (batch, 3, S, S), or (batch, crops, 3, S, S) for a crop model."""
    meta = preprocessing_metadata(processor)
    size = meta["size"]
    crops = [meta["crops"]] if isinstance(processor, CropImageProcessor) else []
    return [batch, *crops, 3, size, size]


def _export(module: torch.nn.Module, example: torch.Tensor, path: Path, exporter: str, opset: int, name: str) -> None:
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice and tracer warnings
            if exporter == "dynamo":
                options = dict(dynamic_shapes=({0: torch.export.Dim("batch")},), external_data=False, verbose=False)
            else:
                options = dict(dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}, FEATURES: {0: "batch"}})
            torch.onnx.export(
                module,
                (example,),
                str(path),
                input_names=[INPUT],
                output_names=[OUTPUT, FEATURES],
                opset_version=opset,
                dynamo=exporter == "dynamo",
                **options,
            )
    except Exception as error:  # exporters raise many kinds; the user needs the first line and the model
        first = next((line for line in str(error).splitlines() if line.strip()), type(error).__name__)
        raise DeepArtError(f"cannot export {name} to ONNX with the {exporter} exporter: {first}") from None


def _add_metadata(path: Path, metadata: dict) -> None:
    import onnx

    graph = onnx.load(str(path))
    entry = graph.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(metadata, ensure_ascii=False)
    onnx.save(graph, str(path))


def onnx_metadata(
    config: PreTrainedConfig,
    processor: BaseImageProcessor,
    *,
    source: str,
    exporter: str,
    opset: int,
    features: int,
    familiarity: Familiarity | None = None,
) -> dict:
    """Everything a consumer needs beside the graph, as ``onnx_export.json`` and the graph's metadata_props hold
    it; ``features``: the dimension of the features output."""
    calibration = Calibration.from_config(config)
    labels = model_labels(config)
    familiar = (
        {
            "file": FAMILIARITY_FILE,
            "stored_images": familiarity.size,
            "k": familiarity.k,
            "percentile": familiarity.percentile,
            "threshold": familiarity.threshold,
            "distance": (
                f"1 - the k-th largest cosine similarity of the L2-normalised '{FEATURES}' output to the rows of "
                f"the file's 'features' tensor (L2-normalised); the image is familiar when the distance is <= "
                "threshold"
            ),
        }
        if familiarity is not None
        else None
    )
    return {
        "format": "onnx",
        "model_file": ONNX_FILE,
        "source": source,
        "exporter": f"torch.onnx {exporter} (torch {torch.__version__})",
        "opset": opset,
        "inputs": {INPUT: {"shape": onnx_input_shape(processor), "dtype": "float32"}},
        "outputs": {
            OUTPUT: {"shape": ["batch", len(labels)], "dtype": "float32"},
            FEATURES: {"shape": ["batch", features], "dtype": "float32"},
        },
        "familiarity": familiar,
        "labels": labels,
        "preprocessing": preprocessing_metadata(processor),
        "calibration": {
            **calibration.to_dict(),
            "threshold_prob_ai": calibration.threshold,
            "temperature_in_graph": True,  # divided into the head's weights when the calibration was fitted
        },
        "score": (
            "log_odds_ai = logits[ai] - logits[human] (an attribution model: log(1 - p_real) - log(p_real) of "
            "softmax(logits)); prob_ai = sigmoid(log_odds_ai); 'ai' when log_odds_ai >= "
            "calibration.threshold_log_odds"
        ),
    }


# --- scoring an export ------------------------------------------------------------------------------------------


def onnx_export_folder(path_or_id: str | os.PathLike) -> Path | None:
    """The export folder ``path_or_id`` names (the folder, or its model.onnx), or None when it is not an export."""
    path = Path(path_or_id)
    if path.suffix.lower() == ".onnx":
        if not path.is_file():
            raise DeepArtError(f"no such ONNX file: {path}")
        folder = path.parent
    elif (path / ONNX_FILE).is_file():
        folder = path
    else:
        return None
    if not (folder / METADATA_FILE).is_file():
        raise DeepArtError(
            f"{folder} has no {METADATA_FILE} beside its ONNX file: score only what `deepart-hf export` wrote"
        )
    return folder


class OnnxBackend:
    """An exported detector in an onnxruntime session: a batch of ``pixel_values`` -> float64 logits."""

    def __init__(self, path: Path, config: PreTrainedConfig, device: str | None = None):
        try:
            import onnxruntime
        except ImportError:
            raise DeepArtError(f"cannot score {path}: the onnxruntime package is missing; {INSTALL_HINT}") from None
        available = onnxruntime.get_available_providers()
        wanted = ["CPUExecutionProvider"]
        if device is None or str(device).startswith("cuda"):
            wanted = ["CUDAExecutionProvider", *wanted]
        self.path = path
        self.config = config
        self.session = onnxruntime.InferenceSession(str(path), providers=[p for p in wanted if p in available])
        self.input_shape = self.session.get_inputs()[0].shape  # (batch, [crops,] 3, S, S)
        # an export written before the graph had a features output scores as before, without familiarity
        self.has_features = FEATURES in {output.name for output in self.session.get_outputs()}

    def __repr__(self) -> str:
        return f"OnnxBackend({self.path.name})"

    def __call__(self, pixel_values: torch.Tensor) -> np.ndarray:
        (logits,) = self.session.run([OUTPUT], {INPUT: self._pixels(pixel_values)})
        return logits.astype(np.float64)

    def logits_and_features(self, pixel_values: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """float64 logits and the (N, D) float32 features output, from one run of the graph."""
        if not self.has_features:
            raise DeepArtError(f"{self.path} has no {FEATURES!r} output: export the detector again to get it")
        logits, features = self.session.run([OUTPUT, FEATURES], {INPUT: self._pixels(pixel_values)})
        return logits.astype(np.float64), features.astype(np.float32, copy=False)

    def _pixels(self, pixel_values: torch.Tensor) -> np.ndarray:
        pixels = pixel_values.detach().cpu().numpy().astype(np.float32, copy=False)
        if pixels.ndim == len(self.input_shape) - 1:
            # single views through a crop model (the demo's heat map): the graph averages a fixed number of
            # crops, and the mean of one view's probability (or features) repeated is that probability
            pixels = np.repeat(pixels[:, None], self.input_shape[1], axis=1)
        return pixels


def load_onnx_backend(folder: Path, device: str | None = None) -> tuple[OnnxBackend, BaseImageProcessor]:
    """An export folder's onnxruntime backend and the image processor saved beside it."""
    try:
        config = AutoConfig.from_pretrained(folder)
        processor = AutoImageProcessor.from_pretrained(folder)
    except (OSError, ValueError) as error:
        raise DeepArtError(f"cannot read the ONNX export in {folder}: {str(error).splitlines()[0]}") from None
    check_detector_labels(config, str(folder), attribution=True)
    return OnnxBackend(folder / ONNX_FILE, config, device), processor
