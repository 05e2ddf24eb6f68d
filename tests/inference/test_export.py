"""ONNX export as a person deploys a detector: `deepart-hf export`, then the export scored through onnxruntime
gives the PyTorch model's prob_ai (within 1e-4) on the DeepArt sample, for a ResNet, an EfficientNet, a ViT, a
multi-stage probe, a two-view probe and a crop model, and the same rows and decisions from `deepart-hf predict`."""

import json
import logging

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from PIL import Image

from deepart_hf.cli import main as cli
from deepart_hf.data.images import decode_image
from deepart_hf.evaluation.predictions import read_predictions_csv
from deepart_hf.inference.demo import analyse
from deepart_hf.inference.detector import load_detector
from deepart_hf.inference.export import FEATURES, METADATA_FILE, METADATA_KEY, ONNX_FILE, export_onnx
from deepart_hf.models import MODELS, ModelSpec, create_model
from deepart_hf.models.calibration import Calibration
from deepart_hf.models.familiarity import FAMILIARITY_FILE, REFERENCE_FILE, Familiarity
from helpers import DEEPART_SAMPLE

# float32 graphs run by two runtimes: kernels differ in the order of their sums (measured: ~1e-6 for resnet10t, up to
# 7e-5 for the from-scratch EfficientNet-B0, whose batch-norm statistics come from one pass)
PARITY = 1e-4


@pytest.fixture(scope="module")
def sample_images(deepart_sample) -> list[Image.Image]:
    """The 40 DeepArt pairs, decoded once."""
    paths = sorted(deepart_sample.glob("Human/*")) + sorted(deepart_sample.glob("Aigc/*"))
    assert len(paths) == 80
    return [decode_image({"bytes": None, "path": str(path)}) for path in paths]


def saved_detector(folder, name: str, images: list[Image.Image], **options):
    """A detector freshly created from scratch and saved as a run saves it, with a calibration in its config.

    Fresh from scratch, every image gets P(ai) ~ 0.5 (BatchNorm's running statistics are 0 and 1, far from the
    activations; EfficientNet's head starts near zero). One training-mode pass over ``images`` sets the running
    statistics, as a training step would, and a head drawn wider spreads the scores, so that agreement between
    the two runtimes is a test of something."""
    torch.manual_seed(0)  # the same initial weights every run: the parity checked is that of one fixed network
    model, processor = create_model(name, from_scratch=True, **options)
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.momentum = None  # a plain average over the pass
            module.reset_running_stats()
    head = [module for module in model.modules() if isinstance(module, torch.nn.Linear)][-1]
    with torch.no_grad():
        model.train()(**processor(images=images, return_tensors="pt"))
        head.weight.normal_(0, 2 / head.in_features**0.5, generator=torch.Generator().manual_seed(0))
    Calibration(temperature=1.5, threshold_log_odds=0.02, method="test").save_to(model.config)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def export(capsys, *argv) -> tuple[int, str, str]:
    code = cli(["export", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def assert_same_scores(run, exported, images):
    """Both detectors on the same pixels (and the export's own processor makes the same pixels)."""
    torch_detector, onnx_detector = load_detector(run), load_detector(exported)
    pixels = torch_detector.processor(images=images, return_tensors="pt")["pixel_values"]
    again = onnx_detector.processor(images=images[:2], return_tensors="pt")["pixel_values"]
    assert np.array_equal(again.numpy(), pixels[:2].numpy())
    expected, got = [], []
    for start in range(0, len(images), 16):
        expected += torch_detector.predict_pixels(pixels[start : start + 16])
        got += onnx_detector.predict_pixels(pixels[start : start + 16])
    prob = np.array([[p.prob_ai for p in expected], [p.prob_ai for p in got]])
    assert np.ptp(prob[0]) > 0.01  # the images get different scores, so agreement means something
    np.testing.assert_allclose(prob[1], prob[0], rtol=0, atol=PARITY)
    assert [p.label for p in got] == [p.label for p in expected]
    # the graph's second output: the features the head reads, which familiarity measures distances on
    torch_features = torch_detector.backend.logits_and_features(pixels[:8])[1]
    onnx_features = onnx_detector.backend.logits_and_features(pixels[:8])[1]
    assert onnx_features.shape == torch_features.shape and np.ptp(torch_features) > 0.01
    np.testing.assert_allclose(onnx_features, torch_features, rtol=1e-4, atol=PARITY)
    return torch_detector, onnx_detector


@pytest.mark.parametrize(
    "name, options",
    [
        ("resnet10t", {"image_size": 64}),
        ("efficientnet_b0", {"image_size": 64}),
        ("vit-test", {"image_size": 32}),
        ("efficientnet-lite0", {"image_size": 64, "probe_stages": 3}),  # the multi-stage probe's own model class
        # the two-view probe: a native crop, and its resize inside the graph (ONNX Resize with antialiasing)
        ("efficientnet-lite0", {"image_size": 240, "probe_views": ("resize", "native")}),
    ],
)
def test_onnx_gives_the_pytorch_prob_ai(name, options, sample_images, tmp_path, capsys, monkeypatch):
    if name not in MODELS:  # a timm architecture outside the registry, built from scratch like the registered ones
        monkeypatch.setitem(MODELS, name, ModelSpec(name, "timm", None, "EfficientNet-B0 for the export test"))
    run = saved_detector(tmp_path / "run", name, sample_images[::5], **options)
    code, out, err = export(capsys, "--model", run, "--format", "onnx", "--output_dir", tmp_path / "onnx")
    assert code == 0, err
    assert "opset 18" in out and "threshold P(ai) = 0.505" in out
    assert_same_scores(run, tmp_path / "onnx" / ONNX_FILE, sample_images)
    assert not (tmp_path / "onnx" / FAMILIARITY_FILE).exists()  # saved without familiarity: the export has none


def test_the_dynamo_exporter_gives_the_same_numbers(sample_images, tmp_path):
    run = saved_detector(tmp_path / "run", "resnet10t", sample_images[::5], image_size=64)
    metadata = export_onnx(run, tmp_path / "onnx", exporter="dynamo")
    assert metadata["exporter"].startswith("torch.onnx dynamo")
    assert_same_scores(run, tmp_path / "onnx", sample_images[::4])


def test_a_crop_model_exports_with_its_averaging_and_predicts_the_same_rows(crop_run, sample_images, tmp_path, capsys):
    run, _ = crop_run
    out = tmp_path / "onnx"
    code, _, err = export(capsys, "--model", run, "--output_dir", out)
    assert code == 0, err
    torch_detector, onnx_detector = assert_same_scores(run, out, sample_images)

    # what a consumer without deepart-hf reads: the JSON beside the graph, and the same JSON inside it
    metadata = json.loads((out / METADATA_FILE).read_text())
    graph = onnx.load(str(out / ONNX_FILE))
    assert json.loads({p.key: p.value for p in graph.metadata_props}[METADATA_KEY]) == metadata
    calibration = torch_detector.calibration
    assert metadata["calibration"]["threshold_log_odds"] == calibration.threshold_log_odds
    assert metadata["calibration"]["temperature"] == calibration.temperature
    preprocessing = metadata["preprocessing"]
    assert (preprocessing["mode"], preprocessing["size"], preprocessing["crops"]) == ("crop", 64, 3)
    assert preprocessing["mean"] == list(torch_detector.processor.image_mean)
    assert preprocessing["std"] == list(torch_detector.processor.image_std)
    assert metadata["inputs"]["pixel_values"]["shape"] == ["batch", 3, 3, 64, 64]
    assert metadata["labels"] == ["human", "ai"]

    # onnxruntime alone: any batch size, and the crop average inside the graph
    session = onnxruntime.InferenceSession(str(out / ONNX_FILE), providers=["CPUExecutionProvider"])
    pixels = torch_detector.processor(images=sample_images[:5], return_tensors="pt")["pixel_values"].numpy()
    one = session.run(None, {"pixel_values": pixels[:1]})[0]
    five = session.run(None, {"pixel_values": pixels})[0]
    assert one.shape == (1, 2) and five.shape == (5, 2)
    np.testing.assert_allclose(one[0], five[0], rtol=0, atol=1e-5)
    probabilities = np.exp(five - np.logaddexp(five[:, :1], five[:, 1:]))  # softmax: the crops' mean probability
    np.testing.assert_allclose(
        probabilities[:, 1], [p.prob_ai for p in torch_detector.predict(sample_images[:5])], rtol=0, atol=PARITY
    )

    # deepart-hf predict: the same rows and decisions from the export folder as from the run, errors included
    files = [*sorted(DEEPART_SAMPLE.glob("Aigc/*"))[:6], *sorted(DEEPART_SAMPLE.glob("Human/*"))[:6]]
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    rows = {}
    for name, model in (("torch", run), ("onnx", out)):
        argv = [
            "predict",
            "--model",
            str(model),
            *map(str, files),
            str(tmp_path / "broken.png"),
            "--uncertain",
            "0.001",
        ]
        assert cli([*argv, "--output", str(tmp_path / f"{name}.json")]) == 1  # the broken file fails, the rest score
        rows[name] = json.loads((tmp_path / f"{name}.json").read_text())
    printed = capsys.readouterr().out
    assert printed.count("(threshold P(ai) = ") == 2
    for key in ("threshold_prob_ai", "threshold_log_odds", "temperature", "uncertain"):
        assert rows["onnx"][key] == rows["torch"][key]
    assert [(r["file"], r["decision"], r["error"]) for r in rows["onnx"]["rows"]] == [
        (r["file"], r["decision"], r["error"]) for r in rows["torch"]["rows"]
    ]
    scored = [(a["prob_ai"], b["prob_ai"]) for a, b in zip(rows["torch"]["rows"], rows["onnx"]["rows"]) if a["prob_ai"]]
    assert len(scored) == len(files)
    np.testing.assert_allclose(*zip(*scored), rtol=0, atol=PARITY)

    # the demo's heat map scores single crops through the same graph
    shown_torch = analyse(torch_detector, files[0])
    shown_onnx = analyse(onnx_detector, files[0])
    assert shown_onnx.probabilities["ai"] == pytest.approx(shown_torch.probabilities["ai"], abs=PARITY)
    assert np.abs(np.asarray(shown_onnx.heatmap, dtype=int) - np.asarray(shown_torch.heatmap, dtype=int)).max() <= 1


def test_what_export_refuses_is_one_line(crop_run, tmp_path, capsys):
    run, _ = crop_run
    out = tmp_path / "onnx"
    assert export(capsys, "--model", run, "--output_dir", out)[0] == 0
    before = (out / ONNX_FILE).stat().st_mtime_ns
    for argv, message in (
        (["--model", run, "--output_dir", out], "holds an ONNX export already; pass --overwrite"),
        (["--model", run, "--output_dir", run], "that no export wrote"),  # never over a run's own config.json
        (["--model", out, "--output_dir", tmp_path / "again"], "is an ONNX export already"),
        (["--model", tmp_path / "missing", "--output_dir", tmp_path / "x"], "no such model folder"),
    ):
        code, _, err = export(capsys, *argv)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert (out / ONNX_FILE).stat().st_mtime_ns == before
    assert export(capsys, "--model", run, "--output_dir", out, "--overwrite")[0] == 0
    (out / METADATA_FILE).unlink()
    assert cli(["predict", "--model", str(out), str(DEEPART_SAMPLE / "Aigc" / "Gushici-0.jpg")]) == 2
    assert f"no {METADATA_FILE}" in capsys.readouterr().err


def test_evaluate_reports_on_an_export_as_on_its_run(crop_run, tmp_path, capsys):
    run, data = crop_run
    assert export(capsys, "--model", run, "--output_dir", tmp_path / "onnx")[0] == 0
    predictions = {}
    for name, model in (("torch", run), ("onnx", tmp_path / "onnx")):
        argv = ["--model", model, "--dataset", data, "--output_dir", tmp_path / name, "--max_samples", "8"]
        assert cli(["evaluate", *map(str, argv), "--robustness", "none", "--n_resamples", "50"]) == 0
        predictions[name] = read_predictions_csv(tmp_path / name / "predictions.csv")
    assert list(predictions["onnx"]["id"]) == list(predictions["torch"]["id"])
    assert np.ptp(predictions["torch"]["prob_ai"]) > 0
    np.testing.assert_allclose(predictions["onnx"]["prob_ai"], predictions["torch"]["prob_ai"], rtol=0, atol=PARITY)


def test_an_export_carries_its_familiarity_and_gives_the_same_distances(crop_run, sample_images, tmp_path, caplog):
    run, _ = crop_run
    out = tmp_path / "onnx"
    metadata = export_onnx(run, out)
    stored, exported = Familiarity.load(run), Familiarity.load(out)
    np.testing.assert_array_equal(exported.features, stored.features)
    assert (exported.threshold, exported.k, exported.percentile) == (stored.threshold, stored.k, stored.percentile)
    assert metadata["outputs"][FEATURES]["shape"] == ["batch", stored.features.shape[1]]
    assert metadata["familiarity"]["threshold"] == stored.threshold and metadata["familiarity"]["k"] == 5
    # the run's own test-split distances go along, the reference evaluate measures familiarity AUROC against
    assert (out / REFERENCE_FILE).read_bytes() == (run / REFERENCE_FILE).read_bytes()

    torch_detector, onnx_detector = load_detector(run), load_detector(out)
    distances = [
        [p.distance for p in detector.predict(sample_images[::4])] for detector in (torch_detector, onnx_detector)
    ]
    assert np.ptp(distances[0]) > 0.01  # the images lie at different distances, so agreement means something
    np.testing.assert_allclose(distances[1], distances[0], rtol=0, atol=PARITY)

    # onnxruntime alone: the distance from the second output and the file beside the graph, as the metadata says
    session = onnxruntime.InferenceSession(str(out / ONNX_FILE), providers=["CPUExecutionProvider"])
    pixels = torch_detector.processor(images=sample_images[:4], return_tensors="pt")["pixel_values"].numpy()
    _, features = session.run(None, {"pixel_values": pixels})
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    by_hand = 1 - np.sort(features @ exported.features.T, axis=1)[:, -exported.k]
    expected = [p.distance for p in torch_detector.predict(sample_images[:4])]
    np.testing.assert_allclose(by_hand, expected, rtol=0, atol=PARITY)

    # an export written before the graph had the features output still scores, without familiarity, and says so
    graph = onnx.load(str(out / ONNX_FILE))
    del graph.graph.output[1]
    onnx.save(graph, str(out / ONNX_FILE))
    with caplog.at_level(logging.WARNING):
        older = load_detector(out)
    assert older.familiarity is None and "gives no features" in caplog.text
    np.testing.assert_allclose(
        [p.prob_ai for p in older.predict(sample_images[:4])],
        [p.prob_ai for p in torch_detector.predict(sample_images[:4])],
        rtol=0,
        atol=PARITY,
    )


def test_a_detector_on_the_hub_exports_from_its_id(tmp_path, capsys, monkeypatch):
    """A Hub id as `--model`: the copy in the Hub cache is exported and scores as the model does; with nothing
    cached, offline, one line says so and nothing is written."""
    import huggingface_hub.constants

    from helpers import write_image

    cache = tmp_path / "hub"
    snapshot = cache / "models--someone--detector" / "snapshots" / ("0" * 40)
    model, processor = create_model("vit-test", from_scratch=True, image_size=32)
    model.save_pretrained(snapshot)
    processor.save_pretrained(snapshot)
    (cache / "models--someone--detector" / "refs").mkdir()
    (cache / "models--someone--detector" / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)

    image = write_image(tmp_path / "painting.png", size=48, seed=2)
    assert export(capsys, "--model", "someone/detector", "--output_dir", tmp_path / "onnx")[0] == 0
    exported = load_detector(tmp_path / "onnx").predict([image])[0].prob_ai
    assert exported == pytest.approx(load_detector("someone/detector").predict([image])[0].prob_ai, abs=PARITY)
    assert json.loads((tmp_path / "onnx" / METADATA_FILE).read_text())["source"] == "someone/detector"

    code, _, err = export(capsys, "--model", "someone/missing", "--output_dir", tmp_path / "none")
    assert code == 2 and "no cached copy" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "none").exists()
