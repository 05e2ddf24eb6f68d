"""deepart-hf predict as a person uses it: every kind of input, every bad input, the outputs, and the same prob_ai
as evaluation (train.py --eval_only) and the demo for the same file and model."""

import csv
import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

import train
from deepart_hf.cli import main as cli
from deepart_hf.evaluation.predictions import read_predictions_csv
from deepart_hf.inference.demo import analyse
from helpers import DEEPART_SAMPLE, random_pixels

EXACT = 1e-6  # the same file through the same model: only float32 batch effects (order of sums, ~1e-8 here) may differ


def predict(capsys, *argv) -> tuple[int, str, str]:
    code = cli(["predict", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def read_json_rows(path) -> dict[str, dict]:
    return {row["file"]: row for row in json.loads(path.read_text())["rows"]}


def test_predict_evaluate_and_demo_give_the_same_prob_ai(crop_run, crop_detector, tmp_path, capsys):
    run, data = crop_run
    again = tmp_path / "eval"
    assert (
        train.main(
            [
                "--eval_only",
                "--model_name_or_path",
                str(run),
                "--dataset",
                str(data),
                "--output_dir",
                str(again),
                "--max_eval_samples",
                "8",
                "--dataloader_num_workers",
                "0",
            ]
        )
        == 0
    )
    evaluated = read_predictions_csv(again / "predictions.csv")
    files = [DEEPART_SAMPLE / image_id for image_id in evaluated["id"]]  # ids are the sample's relative paths
    assert all(f.is_file() for f in files) and np.ptp(evaluated["prob_ai"]) > 0

    code, out, _ = predict(capsys, "--model", run, *files, "--output", tmp_path / "rows.json", "--batch_size", "3")
    assert code == 0, out
    rows = read_json_rows(tmp_path / "rows.json")
    predicted = [rows[str(f)]["prob_ai"] for f in files]
    np.testing.assert_allclose(predicted, evaluated["prob_ai"], rtol=0, atol=EXACT)
    np.testing.assert_allclose(
        [rows[str(f)]["log_odds_ai"] for f in files], evaluated["log_odds_ai"], rtol=0, atol=1e-6
    )
    shown = [analyse(crop_detector, f).probabilities["ai"] for f in files[:3]]
    np.testing.assert_allclose(shown, evaluated["prob_ai"][:3], rtol=0, atol=EXACT)
    assert "8 files:" in out and "0 failed" in out


def save(path, image: Image.Image, fmt: str, **options):
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=fmt, **options)
    return path


def test_every_input_kind_and_image_mode(crop_detector, crop_run, tmp_path, capsys):
    rgb = Image.fromarray(random_pixels(80, 120, seed=1))
    folder = tmp_path / "inbox"
    save(folder / "a.png", rgb, "PNG")
    save(folder / "nested" / "deeper" / "b.jpg", rgb, "JPEG", quality=95)
    (folder / "notes.txt").write_text("not an image, skipped inside a folder")
    archive = tmp_path / "batch.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(folder / "a.png", "sub/a.png")
        zipped.writestr("README.txt", "skipped too")
    modes = tmp_path / "modes"
    save(modes / "rgba.png", rgb.convert("RGBA"), "PNG")
    palette = rgb.convert("P")
    palette.info["transparency"] = 0
    save(modes / "palette.png", palette, "PNG")
    grey = np.asarray(rgb.convert("L"))
    save(modes / "grey16.png", Image.fromarray(grey.astype(np.uint16) * 257), "PNG")  # 16-bit, same grey levels
    save(modes / "grey8.png", Image.fromarray(grey), "PNG")
    save(modes / "cmyk.jpg", rgb.convert("CMYK"), "JPEG")
    save(modes / "lossless.webp", rgb, "WEBP", lossless=True)
    save(modes / "tiff.tif", rgb, "TIFF")
    save(modes / "anim.gif", rgb.convert("P"), "GIF")
    save(modes / "tiny.bmp", rgb.resize((3, 2)), "BMP")
    exif = Image.Exif()
    exif[Image.ExifTags.Base.Orientation] = 6  # stored sideways: viewers turn it 90 degrees clockwise
    save(modes / "rotated.png", rgb.transpose(Image.Transpose.ROTATE_90), "PNG", exif=exif)

    code, out, err = predict(
        capsys, "--model", crop_run[0], folder, archive, str(modes / "*.png"), modes, "--output", tmp_path / "r.csv"
    )
    assert code == 0, out + err
    with open(tmp_path / "r.csv", newline="") as handle:
        rows = {row["file"]: row for row in csv.DictReader(handle)}
    expected = {
        str(folder / "a.png"),
        str(folder / "nested/deeper/b.jpg"),
        f"{archive}/sub/a.png",
        *(str(p) for p in modes.iterdir()),
    }
    assert set(rows) == expected  # the glob's PNGs appear once although the folder lists them again
    assert all(row["error"] == "" and 0 <= float(row["prob_ai"]) <= 1 for row in rows.values())
    assert "2 non-image files in folders or archives skipped" in out

    score = {name: float(row["prob_ai"]) for name, row in rows.items()}
    reference = crop_detector.predict([rgb])[0].prob_ai
    # the same pixels, whichever way they arrive: file, zip member, EXIF-rotated, RGBA, palette, lossless WebP/TIFF
    for name in (
        folder / "a.png",
        f"{archive}/sub/a.png",
        modes / "rotated.png",
        modes / "rgba.png",
        modes / "lossless.webp",
        modes / "tiff.tif",
    ):
        assert score[str(name)] == pytest.approx(reference, abs=EXACT), name
    assert score[str(modes / "palette.png")] == pytest.approx(
        crop_detector.predict([rgb.convert("P")])[0].prob_ai, abs=EXACT
    )
    assert score[str(modes / "grey16.png")] == pytest.approx(
        score[str(modes / "grey8.png")], abs=EXACT
    )  # not clipped white

    # the Python API: paths, folders and images together, one row each, in order
    api = crop_detector.predict_rows([folder / "a.png", rgb, archive])
    assert [r.file for r in api] == [str(folder / "a.png"), "<image 1>", f"{archive}/sub/a.png"]
    assert [r.prob_ai for r in api] == pytest.approx([reference] * 3, abs=EXACT)


def test_bad_files_get_their_row_and_the_run_goes_on(crop_run, tmp_path, capsys, monkeypatch):
    good = save(tmp_path / "good.png", Image.fromarray(random_pixels(40, 40)), "PNG")
    buffer = io.BytesIO()
    Image.fromarray(random_pixels(40, 40)).save(buffer, format="PNG")
    (tmp_path / "truncated.png").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    (tmp_path / "paper.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n")
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "fake.zip").write_bytes(b"this is not a zip archive")
    save(tmp_path / "huge.png", Image.fromarray(random_pixels(100, 100)), "PNG")
    # Pillow refuses images over twice MAX_IMAGE_PIXELS (a decompression bomb); lowered so the file stays small
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 4000)  # the others have 1600 pixels
    names = [
        "good.png",
        "truncated.png",
        "paper.pdf",
        "empty.jpg",
        "fake.zip",
        "huge.png",
        "missing.png",
        "nothing-*.png",
    ]
    code, out, _ = predict(
        capsys, "--model", crop_run[0], *(tmp_path / n for n in names), "--output", tmp_path / "r.jsonl"
    )
    assert code == 1
    rows = {json.loads(line)["file"]: json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()}
    errors = {name: rows[str(tmp_path / name)]["error"] for name in names}
    assert errors["good.png"] is None and rows[str(good)]["decision"] in ("ai", "human", "uncertain")
    assert "corrupt or truncated" in errors["truncated.png"]
    assert errors["paper.pdf"] == "not an image Pillow can read"
    assert errors["empty.jpg"] == "empty file"
    assert "not a readable zip archive" in errors["fake.zip"]
    assert "too large" in errors["huge.png"]
    assert errors["missing.png"] == "no such file or folder"
    assert errors["nothing-*.png"] == "no file matches this pattern"
    assert "8 files:" in out and "7 failed" in out


def test_outputs_are_refused_unless_asked_and_models_that_cannot_load_are_one_line(crop_run, tmp_path, capsys):
    image = save(tmp_path / "x.png", Image.fromarray(random_pixels(64, 64)), "PNG")
    existing = tmp_path / "r.csv"
    existing.write_text("keep me")
    code, _, err = predict(capsys, "--model", crop_run[0], image, "--output", existing)
    assert code == 2 and "pass --overwrite" in err and existing.read_text() == "keep me"
    assert predict(capsys, "--model", crop_run[0], image, "--output", existing, "--overwrite", "--quiet")[0] == 0
    assert existing.read_text().startswith("file,prob_ai,log_odds_ai,decision,error")
    code, _, err = predict(capsys, "--model", crop_run[0], image, "--output", tmp_path / "r.xlsx")
    assert code == 2 and ".csv, .jsonl, .json" in err

    not_a_model = tmp_path / "not-a-model"
    not_a_model.mkdir()
    for model, expected in ((not_a_model, "no config.json"), ("some-org/no-such-detector", "offline")):
        code, _out, err = predict(capsys, "--model", model, image)
        assert code == 2 and expected in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


def test_an_output_naming_a_folder_is_refused_before_any_model_is_loaded(tmp_path, capsys):
    image = save(tmp_path / "x.png", Image.fromarray(random_pixels(64, 64)), "PNG")
    folder = tmp_path / "results.csv"
    folder.mkdir()
    code, out, err = predict(capsys, "--model", tmp_path / "no-such-model", image, "--output", folder)
    assert (
        code == 2
        and out == ""
        and err.strip().splitlines()
        == [
            f"deepart-hf predict: error: --output {folder} is a folder; name a file in it, e.g. {folder / 'predictions.csv'}"
        ]
    )


def test_quiet_console_and_uncertain_band(crop_run, capsys):
    files = sorted((DEEPART_SAMPLE / "Aigc").glob("Gushici-1*.jpg"))[:4]
    code, out, err = predict(capsys, "--model", crop_run[0], *files, "--uncertain", "0")
    assert code == 0 and "Loading weights" not in out + err
    assert "0 uncertain" in out and "uncertain within" not in out
    # a band wide enough to hold every score calls them all uncertain
    code, out, _ = predict(capsys, "--model", crop_run[0], *files, "--uncertain", "50")
    assert f"{len(files)} uncertain" in out


def test_predict_writes_each_images_familiarity_and_counts_the_unfamiliar(crop_run, crop_detector, tmp_path, capsys):
    noise = [tmp_path / f"noise-{seed}.png" for seed in range(2)]
    for seed, path in enumerate(noise):
        Image.fromarray(random_pixels(96, 80, seed=seed)).save(path)
    files = [*sorted(DEEPART_SAMPLE.glob("Human/*"))[:2], *sorted(DEEPART_SAMPLE.glob("Aigc/*"))[:2], *noise]
    code, out, _ = predict(capsys, "--model", crop_run[0], *files, "--output", tmp_path / "r.csv")
    assert code == 0
    with open(tmp_path / "r.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames[-3:] == ["distance", "distance_percentile", "familiar"]
    expected = crop_detector.predict(files)
    np.testing.assert_allclose([float(r["distance"]) for r in rows], [p.distance for p in expected], atol=EXACT)
    assert [float(r["distance_percentile"]) for r in rows] == [p.distance_percentile for p in expected]
    assert [r["familiar"] for r in rows] == [str(p.familiar) for p in expected]
    unfamiliar = sum(not p.familiar for p in expected)
    assert f"; {unfamiliar} of 6 unlike the training images" in out
    assert ("of these images are unlike the images this detector learnt from" in out) == (unfamiliar / 6 >= 0.3)
    assert ("yes" in out.split()) == any(p.familiar for p in expected)  # the table's familiar column


def test_when_many_images_are_unfamiliar_one_line_names_what_helps():
    from deepart_hf.inference.detector import Row
    from deepart_hf.inference.predict import UNFAMILIAR_SHARE, unfamiliar_advice

    def rows(unfamiliar: int, total: int = 10) -> list[Row]:
        return [Row(f"{i}.png", 0.5, 0.0, "ai", familiar=i >= unfamiliar) for i in range(total)]

    assert UNFAMILIAR_SHARE == 0.30
    advice = unfamiliar_advice(rows(3), "runs/detector")
    assert advice.startswith("30% of these images are unlike the images this detector learnt from")
    assert "deepart-hf calibrate --model runs/detector --human" in advice and "\n" not in advice
    assert unfamiliar_advice(rows(2), "runs/detector") is None
    assert unfamiliar_advice([Row("a.png", 0.5, 0.0, "ai"), Row("b.png", error="empty file")], "m") is None
