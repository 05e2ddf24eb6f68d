"""The commands the documentation shows, as a reader pastes them: the code blocks and inline code of README.md
and benchmarks/README.md, and the examples in every ``--help`` description. tests/test_docs.py parses each one with
its command's parser; tests/test_docs_run.py runs them."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from deepart_hf.cli import COMMANDS
from helpers import REPO

DOCS = ("README.md", "benchmarks/README.md")
PROGRAMS = ("python", "deepart-hf", "accelerate", "bash", "pip", "git")
NOT_PARSED = ("pip ", "git clone", "bash ", "apt-get ", "python app.py")  # app.py: the demo inside a run folder
# Inline code that names a command without being one: alternatives ("a / b"), elisions, a module, or a command
# name alone (``deepart-hf predict``, ``deepart-hf build SOURCE``).
FRAGMENT = re.compile(r"\.\.\.| / |\[flags\]|^python -m \S+$|^deepart-hf \S+( [A-Z]+)?$")


@dataclass(frozen=True)
class Documented:
    where: str  # file (and section) it is shown in
    text: str  # as written, continuation lines joined

    @property
    def argv(self) -> list[str]:
        """The words a shell passes on: optional ``[--flag value]`` groups kept, other ``[notes]`` dropped."""
        return ["1" if re.fullmatch(r"[A-Z]", word) else word for word in self.words]  # --seed S, --steps N

    @property
    def words(self) -> list[str]:
        """The words as written; a bracket only opens a group at the start of a word (``[^-]`` in a pattern is
        kept)."""
        text = re.sub(r"(?<!\S)\[(--[^\]]+)\]", r"\1", self.text)
        return shlex.split(re.sub(r"(?<!\S)\[[^\]]*\]", "", text), comments=True)


def _lines(block: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", block)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def documented_commands() -> list[Documented]:
    found = []
    for doc in DOCS:
        text = (REPO / doc).read_text(encoding="utf-8")
        for block in re.findall(r"```(?:bash|sh|shell)\n(.*?)```", text, re.S):
            found += [Documented(doc, line) for line in _lines(block)]
        for span in re.findall(r"`((?:python|deepart-hf) [^`]+)`", text):
            span = " ".join(span.split())
            if not FRAGMENT.search(span) and not span.endswith("--help"):
                found.append(Documented(f"{doc} (inline)", span))
    return found


def help_commands() -> list[Documented]:
    """Command lines in the description every ``--help`` prints (the command modules' and scripts' docstrings)."""
    import importlib

    sources = {
        f"deepart-hf {name} --help": importlib.import_module(module).__doc__ for name, (module, _) in COMMANDS.items()
    }
    for script in [REPO / "train.py", *sorted((REPO / "dataset_scripts").glob("*.py"))]:
        sources[f"{script.relative_to(REPO)} --help"] = script.read_text(encoding="utf-8").split('"""')[1]
    found = []
    for where, doc in sources.items():
        examples = "\n".join(line for line in (doc or "").splitlines() if line.startswith(" "))  # indented
        found += [
            Documented(where, line)
            for line in _lines(examples)
            if line.split(" ", 1)[0] in PROGRAMS and " ... " not in line  # "..." marks a synopsis, not a command
        ]
    return found


ALL = documented_commands() + help_commands()
