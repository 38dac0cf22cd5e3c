"""Engine built-ins that Ibis does not wrap, declared once so callers stay in Ibis."""

from __future__ import annotations

import ibis


@ibis.udf.scalar.builtin(name="json_valid")
def json_valid(text: str) -> bool:  # type: ignore[empty-body]
    """True when the text is well-formed JSON."""


@ibis.udf.scalar.builtin(name="json_type")
def json_type(text: str) -> str:  # type: ignore[empty-body]
    """The JSON type of the document's root ('OBJECT', 'ARRAY', ...)."""


@ibis.udf.scalar.builtin(name="map_extract_value")
def map_extract_value(mapping: dict[str, str], key: str) -> str:  # type: ignore[empty-body]
    """DuckDB: the value at a key, NULL when absent; a third of the work of Ibis's map get."""


@ibis.udf.scalar.builtin(name="json_transform")
def _json_transform(text: str, structure: str) -> dict[str, str]:  # type: ignore[empty-body]
    ...


def json_object_to_map(text: ibis.Value) -> ibis.Value:
    """A JSON object's members as map<string, string>; nested values keep their JSON text."""
    return _json_transform(text, '"MAP(VARCHAR, VARCHAR)"')
