"""The commands the documentation shows, as a reader pastes them: every command in README.md's and
benchmarks/README.md's code blocks and inline code, and in every ``--help`` description, is parsed by the
command's own parser (flags, values, subcommands), and every ``--dataset`` is one ``load_splits`` accepts
(tests/test_docs_run.py runs them on the DeepArt sample).

Not parsed, only listed: installs (pip, apt-get), ``git clone`` (the network) and the scripts that are the suite
and the main job themselves (``bash scripts/...``, ``bash .ci/run``).
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest
from documented import ALL, DOCS, NOT_PARSED

from deepart_hf.cli import COMMANDS, build_parser
from helpers import REPO

OUTPUTS = {  # what the documented commands write: later commands read these folders
    word for command in ALL for flag, word in zip(command.argv, command.argv[1:]) if flag in ("--out", "--output_dir")
}


def check_dataset(value: str) -> None:
    """The rule ``load_splits`` refuses a name by before loading: neither a folder nor a Hub id (ORG/NAME)."""
    for name in value.split(","):
        name = name.split("@")[0]
        placeholder = name.isupper()  # DATASET, OTHER: the reader's own
        if not placeholder and name not in OUTPUTS and not Path(name).suffix and name.count("/") != 1:
            pytest.fail(f"--dataset {name}: neither a folder a documented command writes nor a Hub id (ORG/NAME)")


def parse_training_flags(flags: list[str]) -> None:
    from deepart_hf.training.arguments import parse_arguments

    parse_arguments(flags)


class Parsed(Exception):
    """Raised by ``parse_args`` once it has parsed a script's command line: the script goes no further."""


def parse_script(script: str, argv: list[str]) -> None:
    """A script that is not part of the package (benchmarks/, scripts/): run as ``python SCRIPT ...`` runs it, up
    to its ``parse_args`` and no further."""
    import argparse
    import runpy

    parse = argparse.ArgumentParser.parse_args

    def parsed(self, *args, **kwargs):
        parse(self, *args, **kwargs)
        raise Parsed

    path = REPO / script
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(argparse.ArgumentParser, "parse_args", parsed)
        patch.setattr(sys, "argv", [str(path), *argv])
        patch.syspath_prepend(str(path.parent))
        with pytest.raises(Parsed):
            runpy.run_path(str(path), run_name="__main__")


def check_parses(argv: list[str]) -> None:
    if argv[:2] == ["accelerate", "launch"]:
        argv = ["python", *argv[2:]]
    if argv[:3] == ["python", "-m", "deepart_hf"]:
        argv = ["deepart-hf", *argv[3:]]
    if argv[:3] == ["python", "-m", "deepart_hf.evaluate"]:
        argv = ["deepart-hf", "evaluate", *argv[3:]]
    program, rest = argv[0], argv[1:]
    for flag, value in zip(rest, rest[1:]):
        if flag == "--dataset":
            check_dataset(value)
    if program == "deepart-hf":
        assert rest and rest[0] in COMMANDS, f"no deepart-hf command {rest[:1]}"
        args, extra = build_parser(rest[0]).parse_known_args(rest)
        if rest[0] == "build":
            from deepart_hf.data.build_command import dataset_script_parser

            dataset_script_parser(args.source).parse_args_into_dataclasses(args=extra)
        elif rest[0] == "train" and not args.all_flags:
            parse_training_flags(extra)
        elif args.passes_flags_on and extra:
            parse_training_flags([*extra, "--dataset", "data/x", "--output_dir", "out"])
        else:
            assert not extra, f"unrecognized arguments: {extra}"
    elif program == "python" and rest[0] == "-c":
        compile(rest[1], "<python -c>", "exec")
    elif program == "python" and rest[0] == "train.py":
        parse_training_flags(rest[1:])
    elif program == "python" and rest[0].startswith("dataset_scripts/"):
        from deepart_hf.data.build_command import dataset_script_parser

        dataset_script_parser(Path(rest[0]).stem).parse_args_into_dataclasses(args=rest[1:])
    elif program == "python" and rest[0].startswith(("benchmarks/", "scripts/")):
        parse_script(rest[0], rest[1:])
    else:
        pytest.fail(f"no parser known for {shlex.join(argv)}")


PARSED = [c for c in ALL if not c.text.startswith(NOT_PARSED)]


def test_the_documentation_shows_commands_of_every_kind():
    programs = {c.argv[1] if c.argv[0] == "deepart-hf" else c.argv[0] for c in PARSED}
    assert {"python", "train", "evaluate", "predict", "export", "calibrate", "cross-eval", "few-shot"} <= programs
    assert len(PARSED) > 60


@pytest.mark.parametrize("command", PARSED, ids=lambda c: f"{c.where}: {c.text[:80]}")
def test_a_documented_command_parses_as_written(command):
    try:
        check_parses(command.argv)
    except SystemExit as exit:  # argparse has printed why
        pytest.fail(f"{command.text!r} ({command.where}) is refused by its parser (exit {exit.code})")


def anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def headings(doc: Path) -> set[str]:
    return {anchor(heading) for heading in re.findall(r"^#+ (.+)$", doc.read_text(encoding="utf-8"), re.M)}


@pytest.mark.parametrize("doc", DOCS)
def test_every_link_to_a_section_leads_to_one_of_its_headings(doc):
    """Links within the page (#section) and to a section of another page (other.md#section)."""
    path = REPO / doc
    for target, section in re.findall(r"\]\(([^)#\s]*)#([^)\s]+)\)", path.read_text(encoding="utf-8")):
        page = (path.parent / target) if target else path
        assert page.is_file() and section in headings(page), f"{doc}: ({target}#{section}) leads nowhere"


def test_the_readme_reference_list_names_every_section_after_it():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    reference, sections = text.split("\n## Reference\n", 1)[1].split("\n## ", 1)
    listed = set(re.findall(r"\]\(#([^)]+)\)", reference))
    assert {anchor(heading) for heading in re.findall(r"^## (.+)$", "## " + sections, re.M)} <= listed
