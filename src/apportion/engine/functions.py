"""Engine built-ins that Ibis does not wrap, declared once so callers stay in Ibis."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir


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


# -- exact arithmetic in the staging engine (DuckDB macros: apportion.engine.staging) -------
@ibis.udf.scalar.builtin(name="apportion_exact_sum")
def exact_sum(a: dt.Decimal(38, 18), b: dt.Decimal(38, 18)) -> dt.Decimal(38, 18):  # type: ignore[empty-body,valid-type]
    """a + b; NULL where the sum is beyond DECIMAL(38, 18)."""


@ibis.udf.scalar.builtin(name="apportion_digits")
def _digits(x: dt.Decimal(38, 18)) -> int:  # type: ignore[empty-body,valid-type]
    """The digits of a number's whole part."""


@ibis.udf.scalar.builtin(name="apportion_kept")
def _kept(x: dt.Decimal(38, 18), keep: bool) -> dt.Decimal(38, 18):  # type: ignore[empty-body,valid-type]
    """x where ``keep``, else 0 (NULL where ``keep`` is)."""


@ibis.udf.scalar.builtin(name="apportion_fits")
def _fits(a: dt.Decimal(38, 18), b: dt.Decimal(38, 18)) -> bool:  # type: ignore[empty-body,valid-type]
    """Whether the whole parts multiply below 10^20."""


@ibis.udf.scalar.builtin(name="apportion_product_text")
def _product_text(a: dt.Decimal(38, 18), b: dt.Decimal(38, 18), fits: bool) -> str:  # type: ignore[empty-body,valid-type]
    """a x b as text, rounded half to even to 18 places, where ``fits``; else NULL."""


def with_exact_products(table: ir.Table, products: Mapping[str, tuple[str, str]]) -> ir.Table:
    """The table with columns of exact products (``into``: two DECIMAL(38, 18) columns) as
    text, rounded half to even to 18 places; NULL where an operand is, or where the product
    is beyond what DECIMAL(38, 18) holds. Each step reads the columns the one before made
    (see apportion.engine.staging.EXACT_MACROS for why); the staging engine's macros only."""

    def step(
        found: ir.Table, suffix: str, make: Callable[[ir.Table, str, str, str], ir.Value]
    ) -> ir.Table:
        return found.mutate(
            **{f"{into}{suffix}": make(found, into, a, b) for into, (a, b) in products.items()}
        )

    found = step(table, "__short", lambda t, _, a, b: _digits(t[a]) + _digits(t[b]) <= 21)
    found = step(found, "__a", lambda t, into, a, _: _kept(t[a], t[f"{into}__short"]))
    found = step(found, "__b", lambda t, into, _, b: _kept(t[b], t[f"{into}__short"]))
    found = step(
        found,
        "__fits",
        lambda t, into, _, __: t[f"{into}__short"] & _fits(t[f"{into}__a"], t[f"{into}__b"]),
    )
    found = step(found, "__a", lambda t, into, _, __: _kept(t[f"{into}__a"], t[f"{into}__fits"]))
    found = step(found, "__b", lambda t, into, _, __: _kept(t[f"{into}__b"], t[f"{into}__fits"]))
    found = step(
        found,
        "",
        lambda t, into, _, __: _product_text(t[f"{into}__a"], t[f"{into}__b"], t[f"{into}__fits"]),
    )
    helpers = [
        f"{into}{suffix}" for into in products for suffix in ("__short", "__a", "__b", "__fits")
    ]
    return found.drop(*helpers)


@ibis.udf.scalar.builtin(name="to_json")
def json_text(text: str) -> str:  # type: ignore[empty-body]
    """A string as a JSON string literal (quoted, escaped)."""
