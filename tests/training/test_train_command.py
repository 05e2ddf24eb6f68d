"""`deepart-hf train` is `python train.py`: the same flags, the same errors."""

from deepart_hf.cli import main as cli


def test_train_subcommand_lists_the_models(capsys):
    assert cli(["train", "--list_models"]) == 0
    assert "resnet10t" in capsys.readouterr().out


def test_train_subcommand_errors_are_one_line(capsys):
    assert cli(["train", "--protocol", "paper", "--dataset", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("deepart-hf train: error: unknown protocol 'paper'") and len(err.splitlines()) == 1
