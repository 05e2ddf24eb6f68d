"""The package's folders are layers in the order data flows through them, and imports only point down.

Every ``import`` and ``from ... import`` in every module is read with ``ast`` (those inside functions too), resolved
to a module of the package, and checked against the layer order below. A module may import from its own folder or
from a lower layer, never from a higher one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import deepart_hf

PACKAGE = Path(deepart_hf.__file__).resolve().parent

# Lowest first. The package's own top-level modules are the base (constants, errors, atomic files, the Hub, cards,
# the console); the command line and the package's public facade sit on top of everything.
LAYERS = ["base", "data", "models", "inference", "evaluation", "training", "research", "edge"]
EDGE_MODULES = {"deepart_hf", "deepart_hf.cli", "deepart_hf.evaluate", "deepart_hf.__main__"}


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = ("deepart_hf", *path.relative_to(package).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str, package: Path = PACKAGE) -> str:
    if module in EDGE_MODULES:
        return "edge"
    parts = module.split(".")
    folder = parts[1] if len(parts) > 2 or (package / parts[1]).is_dir() else None
    return folder if folder in LAYERS else "base"


def imported_modules(path: Path, modules: set[str], package: Path = PACKAGE) -> set[str]:
    """The package modules ``path`` imports, wherever the import statement stands."""
    name = module_name(path, package)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            candidates = [target, *(f"{target}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        found.update(c for c in candidates if c in modules and c != name)
    return found


def upward_imports(package: Path = PACKAGE) -> list[str]:
    paths = sorted(package.rglob("*.py"))
    modules = {module_name(p, package) for p in paths}
    problems = []
    for path in paths:
        source = module_name(path, package)
        for target in sorted(imported_modules(path, modules, package)):
            low, high = layer_of(source, package), layer_of(target, package)
            if LAYERS.index(high) > LAYERS.index(low):
                problems.append(f"{source} ({low}) imports {target} ({high})")
    return problems


def test_imports_only_point_down():
    assert upward_imports() == []


def test_every_folder_is_a_known_layer():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders <= set(LAYERS)


def test_the_check_sees_imports_inside_functions(tmp_path):
    package = tmp_path / "deepart_hf"
    for module, source in {
        "__init__.py": "",
        "errors.py": "",
        "data/__init__.py": "",
        "data/tree.py": "from ..errors import DeepArtError\n\n\ndef walk():\n    from ..training import run\n    return run\n",
        "training/__init__.py": "",
        "training/run.py": "from ..data.tree import walk\n",
    }.items():
        (package / module).parent.mkdir(parents=True, exist_ok=True)
        (package / module).write_text(source, encoding="utf-8")
    assert upward_imports(package) == [
        "deepart_hf.data.tree (data) imports deepart_hf.training (training)",
        "deepart_hf.data.tree (data) imports deepart_hf.training.run (training)",
    ]


def test_the_run_imports_its_report_and_the_report_does_not_import_the_run():
    """What a run returns (``RunResult``) lives in training/result.py, beside both, so the two do not form a cycle."""
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    training = PACKAGE / "training"
    assert "deepart_hf.training.report" in imported_modules(training / "run.py", modules)
    assert "deepart_hf.training.run" not in imported_modules(training / "report.py", modules)
    assert deepart_hf.RunResult.__module__ == "deepart_hf.training.result"
