"""Reading infrastructure files safely: JSON, and YAML that may be CloudFormation (``!Ref``) or
a stream of Kubernetes documents, each bounded so a hostile file cannot exhaust the machine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from apportion.errors import UsageError

MAX_BYTES = 64 * 1024 * 1024  # a Terraform plan of a large estate fits; a runaway file does not
MAX_ALIASES = 1_000  # YAML anchors reused more often than this are refused (a "YAML bomb")
MAX_DOCUMENTS = 100_000


class DocumentError(UsageError):
    """An infrastructure file that cannot be read as what it claims to be; names the file."""


class Intrinsic(dict[str, Any]):
    """A CloudFormation function (``!Ref Env``, ``{"Fn::Sub": ...}``): known only at deploy."""


def read_documents(path: Path) -> list[Any]:
    """Every document in the file: one for JSON, one or more for YAML (``---`` separated)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DocumentError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if size > MAX_BYTES:
        raise DocumentError(
            f"{path}: {size:,} bytes is more than the {MAX_BYTES:,} a file may have; split it"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise DocumentError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if not text.strip():
        raise DocumentError(f"{path}: the file is empty")
    suffix = path.suffix.lower()
    if suffix == ".json" or (suffix not in (".yaml", ".yml") and text.lstrip()[:1] in "{["):
        return [_json(path, text)]
    return _yaml(path, text)


def _json(path: Path, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(
            f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    except RecursionError as exc:
        raise DocumentError(f"{path}: nested too deeply to read") from exc


def _yaml(path: Path, text: str) -> list[Any]:
    loader = _BoundedLoader(text)
    documents: list[Any] = []
    try:
        while loader.check_data():  # type: ignore[no-untyped-call]
            documents.append(loader.get_data())
            if len(documents) > MAX_DOCUMENTS:
                raise DocumentError(f"{path}: more than {MAX_DOCUMENTS:,} YAML documents")
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise DocumentError(f"{path}: not valid YAML{at}: {problem}") from exc
    except _TooManyAliases as exc:
        raise DocumentError(
            f"{path}: more than {MAX_ALIASES:,} YAML aliases; refused as a possible YAML bomb"
        ) from exc
    except RecursionError as exc:
        raise DocumentError(f"{path}: nested too deeply to read") from exc
    finally:
        loader.dispose()
    return [d for d in documents if d is not None]  # an empty document between '---' lines


class _TooManyAliases(Exception):
    pass


class _BoundedLoader(yaml.SafeLoader):
    """The safe loader, plus CloudFormation's short function tags, and a cap on aliases."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _TooManyAliases
        return super().compose_node(parent, index)


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Intrinsic:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return Intrinsic({name: value})


_BoundedLoader.add_multi_constructor("!", _intrinsic)
