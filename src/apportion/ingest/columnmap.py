"""Column maps: a native CSV export's columns mapped to FOCUS, declared once and run in the
staging engine (DuckDB, whatever engine holds the data), not row by row in Python.

A format's map is a ``ColumnMap``: for each FOCUS column, an Ibis expression over the export's
columns, written with the terms here (``Cells``: the first non-blank of some columns;
``cost``, ``total`` and ``times`` for amounts; ``lookup`` for a fixed table of values;
``json_members`` for tags spread over columns). The map yields FOCUS text, which then goes
through the same parsing, quarantine and categories as a FOCUS file (apportion.ingest.focus):
a cell the map cannot compute with (``abc`` as a cost) comes out as written, so its row is
quarantined with it.

Amounts are exact: a sum or a product is taken in DECIMAL(38, 18) and 128-bit integers by the
staging engine's macros (apportion.engine.staging), a product rounded half to even to the 18
places money keeps; one beyond what a column holds comes out as the text of its operands.

What is a function of a few columns with few distinct values (a pricing unit, a service
name, a day written m/d/yyyy) is ``Derived``: the reader's Python function, applied once per
distinct value and joined back, so one spelling reads one way and the cost does not grow with
the rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from apportion.engine.dataplane import FileError, staged_column
from apportion.engine.functions import exact_sum, json_text, with_exact_products
from apportion.ingest import values
from apportion.ingest.readers import Look, Read, Staging, csv_headers, refuse_repeated
from apportion.ingest.registry import Reader
from apportion.ingest.reports import FOCUS_ALWAYS, NO_AMOUNT
from apportion.schema import tables as t

Text: TypeAlias = ir.StringValue
Outputs: TypeAlias = tuple[str | None, ...]


@dataclass(frozen=True)
class Derived:
    """Columns a Python function computes from a few export columns with few distinct values,
    once per distinct value (each cell as written, empty where blank or absent)."""

    name: str
    function: Callable[..., Outputs]
    inputs: tuple[str, ...]
    outputs: int = 1


@dataclass(frozen=True)
class Refusal:
    """Rows that show a file is another export than the one named (an amortized Azure export
    read as the actual one): the first one refuses the file, saying why."""

    when: ir.BooleanValue
    why: Text


@dataclass(frozen=True)
class Amount:
    """A number a map computes with, parsed once (apportion.ingest.values.decimal)."""

    written: Text  # trimmed, NULL where blank
    value: ir.DecimalValue  # NULL where blank or not a number
    invalid: ir.BooleanValue  # text that is not a number


class Cells:
    """An export's staged cells by the names its header gives them (matched as ``fold``
    writes both), with its derived columns."""

    def __init__(
        self,
        table: ir.Table,
        named: Mapping[str, str],
        fold: Callable[[str], str],
        fallback: Mapping[str, tuple[str, int]],
    ) -> None:
        self.table = table
        self._named = named  # folded header name -> staged column
        self._fold = fold
        self._fallback = fallback

    def raw(self, name: str) -> Text:
        """A column's cells as written (or its fallback's, once derived); NULL where the
        export has no such column."""
        column = self._named.get(self._fold(name))
        if column is None and name in self._fallback:
            column = _derived_column(*self._fallback[name])
        if column is None or column not in self.table.columns:
            return ibis.null("string")
        found: Text = self.table[column]
        return found

    def over(self, table: ir.Table) -> Cells:
        """The same cells, read from a table with more columns (derived, parsed)."""
        return Cells(table, self._named, self._fold, self._fallback)

    def __call__(self, *names: str) -> Text:
        """The first of these columns that is not blank in a row, trimmed; else NULL."""
        return ibis.coalesce(*(blank_null(self.raw(name)) for name in names))

    def derived(self, name: str, output: int = 0) -> Text:
        found: Text = self.table[_derived_column(name, output)]
        return found

    def prefixed(self, prefix: str) -> dict[str, Text]:
        """Columns named with a prefix (``resourceTags/``), by the rest of their name."""
        return {
            header.removeprefix(prefix): self.table[column]
            for header, column in sorted(self._named.items())
            if header.startswith(prefix) and header != prefix
        }

    def amount(self, name: str) -> Amount:
        """One of the map's amounts (``ColumnMap.amounts``), parsed once."""
        written, value, invalid = (self.table[_amount_column(name, part)] for part in _PARTS)
        return Amount(written, value, invalid)  # type: ignore[arg-type]

    def times(self, quantity: str, price: str) -> Text:
        """A product of two of the map's amounts (``ColumnMap.products``), exactly, rounded
        half to even to the 18 places money keeps; NULL where either is missing. A cell that
        is not a number comes out as written, and a product no column holds as its
        operands, so the row is quarantined with it."""
        a, b = self.amount(quantity), self.amount(price)
        product: Text = self.table[_product_column(quantity, price)]
        return ibis.cases(
            (a.invalid, a.written),
            (b.invalid, b.written),
            (a.value.isnull() | b.value.isnull(), ibis.null("string")),
            else_=product.fill_null(a.written + " x " + b.written),
        )

    def cost(self, name: str) -> Text:
        """A cost cell as it is read: an empty one is quarantined, not read as no cost."""
        return self(name).fill_null(NO_AMOUNT)


@dataclass(frozen=True)
class ColumnMap:
    """A native CSV export's mapping to FOCUS (a stager of apportion.ingest.readers)."""

    reader: Reader  # its registry entry: --format name, title, how auto recognises it
    recognise: Callable[[list[str]], bool]  # on the header
    columns: Callable[[Cells], Mapping[str, ir.Value]]  # FOCUS column -> its text
    derive: tuple[Derived, ...] = ()
    refuse: Callable[[Cells], Refusal] | None = None
    fold: Callable[[str], str] = field(default=lambda name: name)
    # where a name the header lacks is found (a CUR 2.0 product attribute): a derived output
    fallback: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    # the cells the map computes with, by the names it asks for them, and the products of
    # pairs of them it reads (``Cells.times``): computed beneath the map, once (a term is
    # written out wherever it is used, and the engine shares no work under a CASE)
    amounts: Callable[[Cells], Mapping[str, Text]] = field(default=lambda cells: {})
    products: tuple[tuple[str, str], ...] = ()

    def recognises(self, look: Look) -> bool:
        return self.recognise(look.header)

    def stage(self, path: Path, at: Staging) -> Read:
        header = [name.strip() for name in csv_headers(path)]
        refuse_repeated(header, path.name)
        if not self.recognise(header):
            raise FileError(f"{path.name}: not an {self.reader.title} (its columns are not)")

        def shape(staged: ir.Table, beside: Callable[[pa.Table], ir.Table]) -> ir.Table:
            return self._shape(staged, header, beside, path.name)

        raw = at.plane.stage_csv(path, len(header), shape)
        notes = [f"read as {self.reader.title} ({self.reader.name}), mapped to FOCUS"]
        return Read(raw, {c: c for c in at.plane.staged_columns(raw)}, notes=notes)

    def _shape(
        self,
        staged: ir.Table,
        header: list[str],
        beside: Callable[[pa.Table], ir.Table],
        file_name: str,
    ) -> ir.Table:
        named = {self.fold(name): staged_column(index) for index, name in enumerate(header)}
        cells = Cells(staged, named, self.fold, self.fallback)
        if self.refuse is not None:
            _refuse_other_export(self.refuse(cells), staged, file_name)
        for derived in self.derive:  # each may read what an earlier one derived
            cells = cells.over(_joined(cells, derived, beside))
        cells = cells.over(_parsed(cells, self.amounts(cells), self.products))
        columns = dict(self.columns(cells))
        for name in FOCUS_ALWAYS:  # a header-only export (no charges) still has these
            columns.setdefault(name, ibis.null("string"))
        table = cells.table
        return table.select(
            table[t.ROW_NUMBER], **{name: value.cast("string") for name, value in columns.items()}
        )


def _refuse_other_export(refusal: Refusal, staged: ir.Table, file_name: str) -> None:
    first = (
        staged.filter(refusal.when)
        .order_by(t.ROW_NUMBER)
        .select(line=staged[t.ROW_NUMBER], why=refusal.why)
        .limit(1)
        .to_pyarrow()
        .to_pylist()
    )
    if first:
        raise FileError(f"{file_name}: line {first[0]['line']}: {first[0]['why']}")


_PARTS = ("written", "value", "invalid")


def _amount_column(name: str, part: str) -> str:
    return f"_amount_{name}_{part}"


def _product_column(quantity: str, price: str) -> str:
    return f"_product_{quantity}_{price}"


def _parsed(
    cells: Cells, amounts: Mapping[str, Text], products: tuple[tuple[str, str], ...]
) -> ir.Table:
    """The cells' table with each amount parsed, and then each product taken, as columns the
    map reads."""
    columns: dict[str, ir.Value] = {}
    for name, cell in amounts.items():
        parsed = values.decimal(cell)
        columns[_amount_column(name, "written")] = values.text(cell)
        columns[_amount_column(name, "value")] = parsed.value
        columns[_amount_column(name, "invalid")] = parsed.invalid
    table = cells.table.mutate(**columns)
    products_of = {
        _product_column(a, b): (_amount_column(a, "value"), _amount_column(b, "value"))
        for a, b in products
    }
    return with_exact_products(table, products_of)


def _derived_column(name: str, output: int) -> str:
    return f"_derived_{name}_{output}"


def _joined(cells: Cells, derived: Derived, beside: Callable[[pa.Table], ir.Table]) -> ir.Table:
    """The cells' table with a derived column's values joined on, computed once per distinct
    input."""
    table = cells.table
    keys = {
        f"_key_{derived.name}_{i}": cells.raw(n).fill_null("") for i, n in enumerate(derived.inputs)
    }
    distinct = table.select(**keys).distinct().to_pyarrow().to_pylist()
    outputs: list[Outputs] = [derived.function(*row.values()) for row in distinct]
    lookup = beside(
        pa.table(
            {
                **{key: pa.array([row[key] for row in distinct], pa.string()) for key in keys},
                **{
                    _derived_column(derived.name, i): pa.array(
                        [found[i] for found in outputs], pa.string()
                    )
                    for i in range(derived.outputs)
                },
            }
        )
    )
    keyed = table.mutate(**keys)
    joined = keyed.left_join(lookup, [keyed[key] == lookup[key] for key in keys])
    return joined.select(
        *table.columns, *(_derived_column(derived.name, i) for i in range(derived.outputs))
    )


# -- terms of a map ----------------------------------------------------------------------------
def blank_null(cell: Text) -> Text:
    """Trimmed text, NULL where blank."""
    return cell.strip().nullif("")


def lookup(value: Text, table: Mapping[str, str], default: str | None) -> Text:
    """The table's value for a cell (trimmed), ``default`` where it has none."""
    other = ibis.null("string") if default is None else ibis.literal(default)
    return value.strip().substitute(dict(table), else_=other)


def total(*amounts: Amount, minus: Amount | None = None) -> Text:
    """Amounts added (and one taken away) exactly; an empty one counts nothing, and a cell
    that is not a number comes out as written, so the row is quarantined with it."""
    terms = [*((amount, False) for amount in amounts), *([(minus, True)] if minus else [])]
    found: ir.Value = ibis.literal(0).cast("decimal(38, 18)")
    for amount, negative in terms:
        value = amount.value.fill_null(0)
        found = exact_sum(found, -value if negative else value)
    # a sum no column holds comes out as its terms, quarantined so
    beyond = ibis.literal(" + ").join([amount.written.fill_null("0") for amount, _ in terms])
    odd = [(amount.invalid, amount.written) for amount, _ in terms]
    return ibis.cases(*odd, else_=found.cast("string").fill_null(beyond))


def json_members(members: Mapping[str, Text]) -> Text:
    """A JSON object of the members whose cells are not blank (their text as written); NULL
    where every one is blank."""
    written = [
        ibis.ifelse(blank_null(cell).notnull(), json.dumps(key) + ":" + json_text(cell), None)
        for key, cell in members.items()
    ]
    if not written:
        return ibis.null("string")
    # concat_ws leaves out the NULLs, the members whose cells are blank
    return ("{" + ibis.literal(",").join(written) + "}").nullif("{}")
