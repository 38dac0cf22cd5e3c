"""The staging engine's exact arithmetic (apportion.engine.staging.EXACT_MACROS and
apportion.engine.functions.with_exact_products), against Python's decimals: a product rounded
half to even to 18 places, a sum, and NULL where the result is beyond what DECIMAL(38, 18)
holds, never an engine error, under a CASE too (where DuckDB's TRY would not catch one)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import duckdb
import ibis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apportion.engine import staging
from apportion.engine.functions import with_exact_products

PLACES = Decimal("1e-18")
LIMIT = Decimal("1e20")  # DECIMAL(38, 18) holds magnitudes below it


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    found = duckdb.connect()
    for macro in staging.EXACT_MACROS:
        found.execute(macro)
    return found


def money(digits: int) -> st.SearchStrategy[Decimal]:
    """Decimals with up to ``digits`` whole digits and up to 18 places, either sign."""
    return st.integers(0, 18).flatmap(
        lambda places: st.integers(-(10 ** (digits + places)) + 1, 10 ** (digits + places) - 1).map(
            lambda n: Decimal(f"{n}E-{places}")
        )
    )


def product(a: Decimal, b: Decimal) -> Decimal | None:
    with localcontext() as context:
        context.prec = 100
        exact = (a * b).quantize(PLACES, rounding=ROUND_HALF_EVEN)
    return None if abs(exact) >= LIMIT else exact


def engine_product(con: duckdb.DuckDBPyConnection, a: Decimal, b: Decimal) -> Decimal | None:
    return engine_products(con, [(a, b)])[0]


def engine_products(
    con: duckdb.DuckDBPyConnection, pairs: list[tuple[Decimal, Decimal]]
) -> list[Decimal | None]:
    """Products as the column maps take them (with_exact_products), read under a CASE."""
    backend = ibis.duckdb.from_connection(con)
    rows = ibis.memtable(
        {
            "a": [str(a) for a, _ in pairs],
            "b": [str(b) for _, b in pairs],
            "n": list(range(len(pairs))),
        }
    )
    typed = rows.select("n", a=rows.a.cast("decimal(38, 18)"), b=rows.b.cast("decimal(38, 18)"))
    found = with_exact_products(typed, {"product": ("a", "b")})
    read = found.select("n", product=ibis.ifelse(found.n >= 0, found.product, None))
    table = backend.to_pyarrow(read.order_by("n"))
    return [None if p is None else Decimal(p) for p in table["product"].to_pylist()]


@settings(max_examples=300, deadline=None)
@given(a=st.one_of(money(3), money(12), money(20)), b=st.one_of(money(3), money(12), money(20)))
def test_a_product_is_exact_to_18_places_half_to_even(
    con: duckdb.DuckDBPyConnection, a: Decimal, b: Decimal
) -> None:
    assert engine_product(con, a, b) == product(a, b)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # ties go to the even last place, whatever the whole part is
        ("5.82", "9.263452602389195425", "53.913294145905117374"),
        ("0.5", "0.000000000000000001", "0"),  # 5e-19: half, to the even 0
        ("0.5", "0.000000000000000003", "0.000000000000000002"),  # 1.5e-18: to the even 2
        ("-0.5", "0.000000000000000001", "0"),  # no negative zero
        ("-2", "3.25", "-6.5"),
        ("99999999999999999999", "99999999999999999999", None),  # beyond 10^20: NULL
        ("10000000000", "10000000000", None),  # exactly 10^20
        ("9999999999.999999999", "10", "99999999999.99999999"),
    ],
)
def test_a_product_at_the_edges(
    con: duckdb.DuckDBPyConnection, a: str, b: str, expected: str | None
) -> None:
    found = engine_product(con, Decimal(a), Decimal(b))
    assert found == (None if expected is None else Decimal(expected))


def test_a_product_of_nothing_is_nothing(con: duckdb.DuckDBPyConnection) -> None:
    backend = ibis.duckdb.from_connection(con)
    rows = ibis.memtable({"a": [None, "2"], "b": ["2", None]}).cast(
        {"a": "decimal(38, 18)", "b": "decimal(38, 18)"}
    )
    found = with_exact_products(rows, {"product": ("a", "b")})
    assert backend.to_pyarrow(found)["product"].to_pylist() == [None, None]


def test_many_products_in_one_pass_each_exact(con: duckdb.DuckDBPyConnection) -> None:
    pairs = [(Decimal(f"{i}.{i:03d}"), Decimal(f"0.{i:018d}")) for i in range(1, 200)]
    pairs.append((Decimal("99999999999999999999"), Decimal("2")))  # beyond: NULL beside
    assert engine_products(con, pairs) == [product(a, b) for a, b in pairs]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.000000000000000001", "2.5", "3.500000000000000001"),
        ("49999999999999999999.5", "-0.5", "49999999999999999999"),
        ("99999999999999999999.5", "99999999999999999999.5", None),  # beyond: NULL, no error
        # a term of half of 10^20 or more could overflow: NULL, so its row is quarantined
        ("50000000000000000000", "-1", None),
    ],
)
def test_a_sum_is_exact_and_null_beyond_a_column(
    con: duckdb.DuckDBPyConnection, a: str, b: str, expected: str | None
) -> None:
    found = con.execute(
        "SELECT CASE WHEN ? THEN apportion_exact_sum("
        "CAST(? AS DECIMAL(38, 18)), CAST(? AS DECIMAL(38, 18))) END",
        [True, a, b],
    ).fetchone()
    assert found is not None
    assert found[0] == (None if expected is None else Decimal(expected))
