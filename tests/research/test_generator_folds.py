"""Leave one generator out: one model per generator, trained on the others and the human training share, tested on
the held-out generator and the human test share, which every fold shares."""

import json
from collections import Counter

import numpy as np
import pytest

import deepart_hf
from deepart_hf.cli import main as cli
from deepart_hf.data.loading import load_splits
from deepart_hf.research.generator_folds import fold_indices, pooled_generators
from helpers import FAST_TRAINING

TINY = [*FAST_TRAINING, "--save_total_limit", "1", "--max_eval_samples", "1000", "--model", "vit-test"]
TINY += ["--from_scratch", "--image_size", "32"]


@pytest.fixture(scope="module")
def three_generators(tmp_path_factory):
    """The synthetic set with 3 up-samplers as generators: 12 real images and 12 of each generator."""
    out = tmp_path_factory.mktemp("data") / "synthetic-g3"
    build = deepart_hf.build("synthetic", n_per_class=12, image_size=48, seed=5, extra={"generators": 3})
    deepart_hf.publish(build, out)
    return out


def test_every_fold_shares_the_human_split_and_never_trains_on_its_generator(three_generators):
    pooled, generators = pooled_generators(str(three_generators), None)
    assert generators == ["upsampler-p2", "upsampler-p3", "upsampler-p4"]
    folds = fold_indices(pooled, generators, "6:1:3", seed=0)
    names = pooled.features["generator"].names
    generator_of = [names[g] for g in pooled["generator"]]
    humans = {
        split: [i for i in folds[generators[0]][split] if generator_of[i] == "real"] for split in folds[generators[0]]
    }
    assert [len(humans[s]) for s in ("train", "validation", "test")] == [7, 1, 4]  # 12 human images at 6:1:3
    for held_out, fold in folds.items():
        assert {s: [i for i in rows if generator_of[i] == "real"] for s, rows in fold.items()} == humans
        assert Counter(generator_of[i] for i in fold["test"]) == {"real": 4, held_out: 12}  # every image of it
        seen = Counter(generator_of[i] for s in ("train", "validation") for i in fold[s])
        assert seen == {"real": 8, **{g: 12 for g in generators if g != held_out}}
        assert Counter(generator_of[i] for i in fold["validation"]) == {
            "real": 1,
            **{g: 2 for g in generators if g != held_out},
        }
    # the same seed gives the same folds
    assert fold_indices(pooled, generators, "6:1:3", seed=0) == folds


def test_cross_eval_leave_one_generator_out_reports_each_fold_and_their_mean(three_generators, tmp_path, capsys):
    out = tmp_path / "logo"
    argv = ["cross-eval", "--dataset", str(three_generators), "--leave_one_generator_out", "--output_dir", str(out)]
    assert cli([*argv, "--n_resamples", "20", *TINY]) == 0
    assert "| **mean of folds** |" in capsys.readouterr().out
    report = json.loads((out / "cross_source.json").read_text())
    folds = report["leave_one_generator_out"]
    assert list(folds) == ["upsampler-p2", "upsampler-p3", "upsampler-p4"]
    assert folds["upsampler-p3"]["trained_on"] == ["real (training share)", "upsampler-p2", "upsampler-p4"]
    for held_out, entry in folds.items():
        metrics = entry["metrics"]
        assert (metrics["n_human"], metrics["n_ai"]) == (4, 12)
        assert metrics["auroc"]["low"] <= metrics["auroc"]["value"] <= metrics["auroc"]["high"]
        test = load_splits(str(out / "folds" / f"without-{held_out}"))["test"]
        assert len(test) == 16  # the fold's dataset folder is what its run was tested on
    for key in ("auroc", "mean_accuracy"):
        values = [entry["metrics"][key]["value"] for entry in folds.values()]
        assert report["mean"][key]["value"] == pytest.approx(np.mean(values), abs=1e-12)
    for shares in (entry["unfamiliar"] for entry in folds.values()):  # every detector carries its familiarity
        assert shares["human"]["n"] == 4 and shares["held_out_generator"]["n"] == 12
        for share in shares.values():
            assert share["value"] == pytest.approx(share["flagged"] / share["n"])
            assert share["low"] <= share["value"] <= share["high"]
    assert report["human_split"] == {"ratio": "6:1:3", "seed": 42, "train": 7, "validation": 1, "test": 4}
    assert (out / "cross_source.png").stat().st_size > 10_000
    markdown = (out / "cross_source.md").read_text()
    assert "Mean over 3 folds: AUROC" in markdown and "| held out | held-out generator's images flagged |" in markdown
    # run again on the same folder: refused, nothing retrained
    assert cli([*argv, *TINY]) == 2
    assert "logo already holds a cross-source report; choose another --output_dir" in capsys.readouterr().err


def test_a_dataset_without_generators_is_refused_in_one_line(deepart_folder, tmp_path, capsys):
    argv = ["cross-eval", "--dataset", str(deepart_folder), "--leave_one_generator_out", "--output_dir", str(tmp_path)]
    assert cli(argv) == 2
    assert (
        "has no 'generator' ClassLabel column with a 'real' class; build a folder with --name-pattern"
        in capsys.readouterr().err
    )
    assert not list(tmp_path.iterdir())  # nothing written
