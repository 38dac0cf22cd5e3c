"""The layers hold by themselves: the contract in pyproject.toml is what README's layout
shows, and no module defers an import of apportion into a function to dodge a cycle."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "apportion"
# where an import inside a function is for something else than a cycle: the CLI keeps its
# start-up light (each command imports what it runs), the engine imports PySpark, an optional
# extra, only when a workspace asks for Spark
DEFERRING = ("cli/", "engine/__init__.py", "engine/spark_plane.py")


def contract_layers() -> list[str]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = config["tool"]["importlinter"]["contracts"]
    assert contract["type"] == "layers" and contract["exhaustive"] is True
    assert "ignore_imports" not in contract  # no exceptions listed
    return [" | ".join(part.strip() for part in layer.split("|")) for layer in contract["layers"]]


def readme_layers() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Project layout") :]
    start = section.index("```\nsrc/apportion/\n")
    block = section[start : section.index("\ntests/", start)]
    names = []
    for line in block.splitlines()[2:]:
        found = re.match(r"^  (\S.*?)(?:\s{2,}|$)", line)
        if found:
            names.append(found.group(1).strip())
    return names


def test_the_readme_draws_the_layers_the_contract_enforces() -> None:
    assert readme_layers() == contract_layers()


def test_every_package_and_module_is_on_a_layer() -> None:
    named = {name.strip() for layer in contract_layers() for name in layer.split("|")}
    children = {
        path.stem if path.is_file() else path.name
        for path in PACKAGE.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__")
        or (path.is_dir() and (path / "__init__.py").exists())
    }
    assert children == named


def deferred_imports() -> list[str]:
    """``file:line module`` for each import of apportion inside a function."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith(DEFERRING) or relative in DEFERRING:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom) and node.level == 0:
                    modules = [node.module or ""]
                elif isinstance(node, ast.ImportFrom):
                    modules = ["apportion (relative)"]
                elif isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                else:
                    continue
                found += [
                    f"{relative}:{node.lineno} {module}"
                    for module in modules
                    if module.startswith("apportion")
                ]
    return found


def test_no_import_of_apportion_is_deferred_into_a_function() -> None:
    assert deferred_imports() == []
