"""One error hierarchy: every error apportion declares is a UsageError (exit 2) or a WorkError
(exit 1), so the CLI and the API tell them apart by branch, not by a list of classes."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from apportion.errors import ApportionError, UsageError, WorkError

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "apportion"


def declared_errors() -> list[tuple[str, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [
            (module, node.name)
            for node in tree.body
            if isinstance(node, ast.ClassDef)
            and node.name.endswith("Error")
            and module != "apportion.errors"  # the root and its branches
        ]
    return found


@pytest.mark.parametrize(("module", "name"), declared_errors())
def test_every_error_is_a_usage_or_a_work_error(module: str, name: str) -> None:
    error = getattr(importlib.import_module(module), name)
    assert issubclass(error, UsageError | WorkError), f"{module}.{name}"


def test_the_branches_carry_their_exit_codes() -> None:
    assert (UsageError.exit_code, WorkError.exit_code) == (2, 1)
    assert issubclass(UsageError, ApportionError) and issubclass(WorkError, ApportionError)
    assert issubclass(UsageError, ValueError)  # what `except ValueError` around calls expects
