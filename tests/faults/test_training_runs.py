"""train.py killed (SIGKILL) or stopped (SIGTERM) at each stage of a run, then given the same command again: it
resumes from the last complete checkpoint and ends with the predictions of a run never interrupted, or refuses
in one line. Nothing half-written is ever taken for a finished run."""

import json
import signal

import numpy as np
from fault_injection import TRAIN_SCRIPT, no_bigger_files_than, python, signalled_when, training_command

from deepart_hf.evaluation.predictions import read_predictions_csv

EXACT = 1e-6


def readable_json(path) -> bool:
    try:
        json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return True


def test_a_run_interrupted_at_every_stage_ends_with_the_predictions_of_an_uninterrupted_one(
    synthetic, reference_run, tmp_path
):
    """Resumed at epoch ends, the Trainer's resume is exact (weights, optimizer, scheduler and random states are
    all in a checkpoint), so the predictions equal the reference run's to float precision. (Within an epoch too:
    each image's random draws are seeded by (seed, epoch, index), tests/training/test_example_seeds.py.)"""
    out = tmp_path / "run"
    command = [TRAIN_SCRIPT, *training_command(synthetic, out)]

    def checkpoint(step):
        return out / f"checkpoint-{step}"

    def not_finished(killed, sig):
        assert killed.returncode == -sig, killed.stdout
        assert not (out / "metrics.json").exists()
        assert all(readable_json(path) for path in out.glob("*.json"))

    # 1. before the first checkpoint: once the run folder is claimed
    killed = signalled_when(command, lambda: (out / "run_args.json").is_file())
    not_finished(killed, signal.SIGKILL)
    assert not any(readable_json(path / "trainer_state.json") for path in out.glob("checkpoint-*"))

    # 2. started again from step 0 (nothing was saved), then SIGTERM just after the first checkpoint
    stopped = signalled_when(command, lambda: readable_json(checkpoint(3) / "trainer_state.json"), signal.SIGTERM)
    not_finished(stopped, signal.SIGTERM)
    assert "resuming from" not in stopped.stdout

    # 3. the disk fills up while the second checkpoint is saved (its optimizer state, 39 MB, does not fit)
    full = python(*command, preexec_fn=no_bigger_files_than(30 * 2**20))
    errors = [line for line in full.stderr.splitlines() if line.startswith("error: ")]
    assert full.returncode == 2 and "Traceback" not in full.stderr, full.stderr
    assert len(errors) == 1 and errors[0].startswith(f"error: cannot save in {out}"), full.stderr
    assert errors[0].endswith("run the same command again: it resumes from the last complete checkpoint")
    assert readable_json(checkpoint(3) / "trainer_state.json") and not (out / "metrics.json").exists()
    assert not readable_json(checkpoint(6) / "trainer_state.json")
    stale = checkpoint(6) / "left-by-the-full-disk"
    stale.touch()
    left_at = stale.stat().st_mtime_ns

    def saving_again() -> bool:
        """The resumed run writes the second checkpoint anew (a model file newer than the full disk's), and has
        not finished it. The folder alone is no sign: while the incomplete one is removed, it still exists."""
        try:
            rewritten = (checkpoint(6) / "model.safetensors").stat().st_mtime_ns > left_at
        except FileNotFoundError:
            return False
        return rewritten and not (checkpoint(6) / "trainer_state.json").exists()

    # 4. while the second checkpoint is being saved: its model is written, its last file (trainer_state.json) not yet
    killed = signalled_when(command, saving_again)
    not_finished(killed, signal.SIGKILL)
    assert f"resuming from {checkpoint(3)}" in killed.stdout and f"removing {checkpoint(6)}: " in killed.stdout
    assert checkpoint(6).is_dir() and not readable_json(checkpoint(6) / "trainer_state.json")

    # 5. during the report: the incomplete checkpoint is removed in one line, the complete one before it resumed
    killed = signalled_when(command, lambda: (out / "predictions.csv").exists())
    not_finished(killed, signal.SIGKILL)
    assert (out / "app.py").is_file()  # the demo is written before the report, whose metrics.json ends the run
    removed = [line for line in killed.stdout.splitlines() if "its save was interrupted" in line]
    assert len(removed) == 1 and f"removing {checkpoint(6)}: " in removed[0], killed.stdout
    assert f"resuming from {checkpoint(3)}" in killed.stdout

    # 6. the same command once more: nothing left to train, the report is written again and the run finishes
    finished = python(*command)
    assert finished.returncode == 0, finished.stderr
    assert f"resuming from {checkpoint(9)}" in finished.stderr
    assert finished.stdout.count("Training precision: ") == 1
    predictions, reference = (read_predictions_csv(run / "predictions.csv") for run in (out, reference_run))
    assert list(predictions["id"]) == list(reference["id"]) and len(reference["id"]) > 0
    np.testing.assert_array_equal(predictions["predicted"], reference["predicted"])
    np.testing.assert_allclose(predictions["log_odds_ai"], reference["log_odds_ai"], rtol=0, atol=EXACT)
    # finished means everything is there: the demo went before the marker, the checkpoints after it
    assert (out / "app.py").is_file() and (out / "README.md").is_file() and any((out / "examples").iterdir())
    assert not list(out.glob("checkpoint-*"))
    assert (out / "model.safetensors").stat().st_mode == (out / "config.json").stat().st_mode

    # 7. and once more: a finished run is refused in one line, untouched
    refused = python(*command)
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error: ")]
    assert refused.returncode == 2 and len(errors) == 1 and "holds a finished run" in errors[0], refused.stderr
    assert read_predictions_csv(out / "predictions.csv")["log_odds_ai"].tolist() == predictions["log_odds_ai"].tolist()
