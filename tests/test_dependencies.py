"""Every package the toolkit and its tests import is declared in pyproject.toml, so a fresh install (``pip install
-e ".[test,demo]"``, as scripts/env.sh does) can run them: the package's imports among its dependencies or
extras, the tests' imports among those plus the test extra."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions

import pytest
import tomllib

from helpers import REPO

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
# the repository's own modules: the package, the tests' helpers, and the scripts tests import by path
LOCAL = {"deepart_hf"} | {
    path.stem
    for folder in ("tests", "scripts", "benchmarks", "dataset_scripts", ".")
    for path in (REPO / folder).glob("**/*.py" if folder == "tests" else "*.py")
}


def declared(*extras: str) -> set[str]:
    requirements = PROJECT["dependencies"] + [
        line for extra in extras for line in PROJECT["optional-dependencies"][extra]
    ]
    return {re.match(r"[\w.-]+", line).group().lower().replace("_", "-") for line in requirements}


def imported(folder: str) -> dict[str, str]:
    """Top-level module -> the first file that imports it, for the modules outside the standard library."""
    found = {}
    for path in sorted((REPO / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in LOCAL:
                    found.setdefault(top, str(path.relative_to(REPO)))
    return found


@pytest.mark.parametrize(
    ("folder", "extras"), [("deepart_hf", ("demo", "onnx", "offline-weights")), ("tests", ("test", "demo"))]
)
def test_every_imported_package_is_declared(folder, extras):
    distributions = packages_distributions()
    allowed = declared(*extras)
    undeclared = {}
    for module, where in imported(folder).items():
        names = {name.lower().replace("_", "-") for name in distributions.get(module, [module])}
        if not names & allowed:
            undeclared[module] = where
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"
