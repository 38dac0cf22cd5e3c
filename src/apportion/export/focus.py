"""Allocated cost as FOCUS: a FOCUS 1.3 "Data Generator-Calculated Split Cost Allocation" over
the FOCUS 1.2 columns.

Every row is an *allocated charge* derived from one *origin charge* (a bill line of
``cost_lines``) and one published allocation (a final allocation, ``__unallocated__``
included): one row per (origin line, final allocation) pair that carries a non-zero amount. As
the specification requires of allocated charges, every FOCUS column is the origin line's own
value (dimensions, unit prices, charge and billing periods, ``Tags``), except the summable
metrics, which are the row's share:

- the cost metrics BilledCost, EffectiveCost, ListCost and ContractedCost: split exactly on
  both margins (apportion.export.split), so an origin line's rows sum to the line and a
  published allocation's rows sum to its published amount, per metric;
- PricingCurrencyEffectiveCost, ConsumedQuantity, PricingQuantity and
  CommitmentDiscountQuantity: the specification counts costs and quantities as summable, so
  they are split too, following the row's share of the line's first non-zero cost metric
  (EffectiveCost, BilledCost, ListCost, ContractedCost) and exact per origin line (a null stays
  null on every row). Unit prices are not summable and stay the origin's.

A line whose cost metrics are all zero still has one row, on its pool's first target.

The ``Allocated*`` columns: AllocatedMethodId is the rule that claimed the line
(``__unallocated__`` where none did); AllocatedMethodDetails is the specification's object,
``{"Elements": [{"AllocatedRatio": r, "UsageUnit": driver, "UsageQuantity": q}], ...}``,
where the ratio is the row's share of its origin line (the ratios of one line sum to exactly
1) and the other keys say how apportion got there (method, rule, driver, the exact share
``q/Q`` where it was measured, path, pool, run, where a direct owner's values came from, and
why any dimension is ``__unallocated__``); AllocatedResourceId names the target by its
dimension values (``cost_centre=risk/use_case=fraud-scorer``) and is null for the remainder,
as the specification requires; AllocatedTags holds the target's dimension values that are
not already tags of the origin line. Our dimensions also travel as ``x_<dimension>``, and
``x_AllocationId`` and ``x_LineId`` name the allocation and the origin line of each row.

Cascades (a later rule splitting an earlier allocation again) are composed: the cells an
intermediate allocation received are kept per origin line, a later pool's origin rows are the
lines of all its member allocations (summed per line), and those are split to its targets the
same way. Bill lines are read a batch of pools at a time (pools by id, up to BATCH_LINES lines
and allocations; a larger pool in pages) and rows are written as they are made (FLUSH_ROWS at
a time), so memory holds one batch plus the cells of intermediate allocations. One row per
(line, allocation) pair is what split cost allocation is: a month whose shared lines are split
to hundreds of use cases has hundreds of rows per such line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from apportion.allocate.arrow_decimal import IntArray, decimals, units
from apportion.csvfile import guard_table
from apportion.engine import DataPlane
from apportion.errors import UsageError
from apportion.export.split import MarginSplit, SplitError, split_rows
from apportion.ledger.published import final_allocations, owner_sources
from apportion.periods import Period
from apportion.progress import Progress, quiet
from apportion.schema import columns as col
from apportion.schema import tables as t
from apportion.schema.focus import ALLOCATED_COLUMNS, COST_METRICS, FOCUS_COLUMNS, Kind
from apportion.workspace import Workspace

# FOCUS 1.3 renamed the provider columns; a 1.2 file carries the 1.2 names.
_NOT_IN_1_2 = {col.CONTRACT_APPLIED, col.HOST_PROVIDER_NAME, col.SERVICE_PROVIDER_NAME}
FOCUS_1_2 = [name for name in FOCUS_COLUMNS if name not in _NOT_IN_1_2]
# summable, nullable: split following a cost metric's cells
FOLLOWING = (
    col.PRICING_CURRENCY_EFFECTIVE_COST,
    col.CONSUMED_QUANTITY,
    col.PRICING_QUANTITY,
    col.COMMITMENT_DISCOUNT_QUANTITY,
)
_RATIO = "AllocatedRatio"  # the row's share of its origin line, in units of 10^-18
SUMMABLE = (*COST_METRICS, *FOLLOWING, _RATIO)
NULLABLE = (*COST_METRICS, *FOLLOWING)  # a null on the origin line is null on all its rows
REFERENCE = (
    col.EFFECTIVE_COST,
    col.BILLED_COST,
    col.LIST_COST,
    col.CONTRACTED_COST,
)  # for FOLLOWING
_ONE = 10**t.MONEY_SCALE

# Sizes: bill lines read at once (whole pools; a larger pool is read in pages of this many),
# output rows assembled and written at once, and cells (lines x targets) computed at once.
BATCH_LINES = 50_000
FLUSH_ROWS = 50_000
BLOCK_CELLS = 100_000

_ARROW = {
    Kind.STRING: pa.string(),
    Kind.MONEY: pa.decimal128(38, t.MONEY_SCALE),
    Kind.DECIMAL: pa.decimal128(38, t.MONEY_SCALE),
    Kind.TIMESTAMP: pa.timestamp("us"),
    Kind.TAGS: pa.string(),
}
_MONEY = pa.decimal128(38, t.MONEY_SCALE)
_TARGET_COLUMNS = (
    col.ALLOCATION_ID,
    col.POOL_ID,
    col.IS_FINAL,
    col.METHOD,
    col.RULE,
    col.DRIVER,
    col.REASON,
    col.QUANTITY,
    col.POOL_QUANTITY,
    col.PATH,
    col.RUN_ID,
    t.CATEGORY,
    *COST_METRICS,
)
_LONG_TEXT = {
    col.ALLOCATED_METHOD_DETAILS,
    col.ALLOCATED_TAGS,
    col.TAGS,
    col.CHARGE_DESCRIPTION,
    col.SKU_PRICE_DETAILS,
    "x_AllocationId",
    t.LINE_ID,
}
_TAG = "tag__"  # a line's own tag value for a dimension key (for AllocatedTags)
_DETAILS_PREFIX = '{"Elements": [{"AllocatedRatio": '


class ExportError(UsageError):
    pass


def export_focus(
    workspace: Workspace, period: Period, out: Path, progress: Progress | None = None
) -> int:
    """Write the period's published allocation as FOCUS split cost allocation rows to ``out``
    (.csv or .parquet); the number of rows written."""
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ExportError(f"{out.name}: write .csv or .parquet")
    final_allocations(workspace, period)  # refuses a period with no published allocation
    config = workspace.config
    dims = config.dimensions
    names = _Names(dims, config.ledger.workload, config.ledger.payer)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    writer = _Writer(partial, _schema(dims), csv=suffix == ".csv")
    try:
        exporter = _Exporter(
            workspace.data, period, names, owner_sources(workspace, period), writer, progress
        )
        exporter.run()
        writer.close()
    except BaseException:
        writer.close()
        partial.unlink(missing_ok=True)
        raise
    partial.replace(out)
    return writer.rows


# -- the output ---------------------------------------------------------------------------------
def _schema(dims: list[str]) -> pa.Schema:
    return pa.schema(
        [pa.field(name, _ARROW[FOCUS_COLUMNS[name]]) for name in FOCUS_1_2]
        + [pa.field(name, pa.string()) for name in ALLOCATED_COLUMNS]
        + [pa.field(f"x_{d}", pa.string()) for d in dims]
        + [
            pa.field(name, pa.string())
            for name in (t.CATEGORY, "x_AllocationId", "x_UnallocatedReason", t.LINE_ID)
        ]
    )


class _Writer:
    """Parquet or CSV, a batch of rows at a time. CSV timestamps are written as FOCUS writes
    them (2026-10-01T00:00:00Z), and CSV text cells go through the formula guard of
    apportion.csvfile (Parquet keeps the text as it is)."""

    def __init__(self, path: Path, schema: pa.Schema, *, csv: bool) -> None:
        self.schema = schema
        self.csv = csv
        self.rows = 0
        self._closed = False
        self._stamps = [f.name for f in schema if pa.types.is_timestamp(f.type)]
        if csv:
            text = pa.schema(
                [f.with_type(pa.string()) if f.name in self._stamps else f for f in schema]
            )
            self._csv: pacsv.CSVWriter | None = pacsv.CSVWriter(path, text)
            self._parquet: pq.ParquetWriter | None = None
        else:
            self._csv = None
            # no min/max statistics on long text: the file's footer keeps them for every row
            # group, and a month of allocated charges has thousands of row groups
            described = [f.name for f in schema if f.name not in _LONG_TEXT]
            self._parquet = pq.ParquetWriter(path, schema, write_statistics=described)

    def write(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        self.rows += table.num_rows
        if self._parquet is not None:
            self._parquet.write_table(table)
            return
        assert self._csv is not None
        for name in self._stamps:
            index = table.schema.get_field_index(name)
            table = table.set_column(index, name, _iso(table[name]))
        # tags and names are user text a spreadsheet would run as a formula
        self._csv.write_table(guard_table(table))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._parquet is not None:
            self._parquet.close()
        if self._csv is not None:
            self._csv.close()


def _iso(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """UTC timestamps as RFC 3339 text, with fractions of a second only where there are any."""
    try:
        whole = pc.cast(column, pa.timestamp("s"))  # refuses to drop a fraction
    except pa.ArrowInvalid:
        return pc.strftime(column, format="%Y-%m-%dT%H:%M:%SZ")
    return pc.strftime(whole, format="%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class _Names:
    dims: list[str]
    workload: str
    payer: str


# -- what a pool is split to ------------------------------------------------------------------
@dataclass
class _Targets:
    """The allocations of a set of pools, each pool's rows together in split order, with what
    each final one writes into every row it receives."""

    table: pa.Table
    spans: dict[str, tuple[int, int]]  # pool id -> rows [start, stop)
    amounts: dict[str, IntArray]  # metric -> units per allocation
    final: npt.NDArray[np.bool_]
    columns: dict[str, pa.Array] = field(default_factory=dict)  # per allocation, for output
    # the values each allocation names, per dimension, as codes into a dictionary (-1: none)
    codes: dict[str, npt.NDArray[np.int64]] = field(default_factory=dict)
    dictionaries: dict[str, pa.Array] = field(default_factory=dict)


def _targets(
    table: pa.Table, pools: set[str], names: _Names, sources: dict[str, dict[str, str]]
) -> _Targets:
    if table.num_rows:
        table = table.filter(pc.is_in(table[col.POOL_ID], value_set=pa.array(sorted(pools))))
    # as the run split them: by pool, then by the index of the allocation in it
    index = pc.struct_field(pc.extract_regex(table[col.ALLOCATION_ID], r":(?P<i>\d+)$"), "i")
    table = table.append_column("index", pc.cast(index, pa.int64()))
    table = table.sort_by([(col.POOL_ID, "ascending"), ("index", "ascending")])
    spans = _spans(table[col.POOL_ID])
    amounts = {m: units(table[m], t.MONEY_SCALE) for m in COST_METRICS}
    final = np.asarray(table[col.IS_FINAL].to_numpy(zero_copy_only=False), dtype=bool)
    targets = _Targets(table, spans, amounts, final)
    targets.columns = _describe(table, names, sources)
    for d in names.dims:
        encoded = pc.dictionary_encode(targets.columns.pop(f"named__{d}"))
        targets.dictionaries[d] = encoded.dictionary
        indices = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
        targets.codes[d] = np.asarray(indices, dtype=np.int64)
    return targets


def _column(table: pa.Table, name: str) -> pa.Array:
    return table[name].combine_chunks() if table.num_rows else pa.array([], table[name].type)


def _describe(
    table: pa.Table, names: _Names, sources: dict[str, dict[str, str]]
) -> dict[str, pa.Array]:
    """The output columns each allocation gives its rows, in columns (a run can have a million
    allocations): text that depends on the pool is made once per pool."""
    dims = names.dims
    nowhere = pc.equal(_column(table, col.METHOD), pa.scalar("unallocated"))
    values = {d: pc.fill_null(_column(table, f"dim__{d}"), t.UNALLOCATED) for d in dims}
    # the values the allocation names (none for the remainder)
    named = {
        d: pc.if_else(
            pc.or_(nowhere, pc.equal(value, pa.scalar(t.UNALLOCATED))),
            pa.scalar(None, pa.string()),
            value,
        )
        for d, value in values.items()
    }
    # "cost_centre=x/use_case=y/" less its last "/" (joining with null_handling="skip" loses
    # the rows of an all-null batch in pyarrow 26)
    pairs = [
        pc.fill_null(
            pc.binary_join_element_wise(pa.scalar(f"{d}="), named[d], pa.scalar("/"), ""), ""
        )
        for d in dims
    ]
    joined = pc.utf8_slice_codeunits(pc.binary_join_element_wise(*pairs, ""), 0, -1)
    resource_id = pc.if_else(pc.equal(joined, ""), pa.scalar(None, pa.string()), joined)
    order = list(dict.fromkeys([names.workload, names.payer, *dims]))
    resource_name = pc.coalesce(*[named[d] for d in order])
    return {
        col.ALLOCATED_METHOD_ID: pc.fill_null(_column(table, col.RULE), t.UNALLOCATED),
        col.ALLOCATED_RESOURCE_ID: resource_id,
        col.ALLOCATED_RESOURCE_NAME: resource_name,
        "details": _details(table, nowhere, sources),
        **{f"x_{d}": values[d] for d in dims},
        **{f"named__{d}": named[d] for d in dims},
        t.CATEGORY: _column(table, t.CATEGORY),
        "x_AllocationId": _column(table, col.ALLOCATION_ID),
        "x_UnallocatedReason": _column(table, col.REASON),
    }


def _details(table: pa.Table, nowhere: pa.Array, sources: dict[str, dict[str, str]]) -> pa.Array:
    """AllocatedMethodDetails after each row's own AllocatedRatio: the usage the ratio was
    measured by (a measured target), then how apportion allocated it: the pool's method, rule,
    driver, path, ids and owner sources, and the allocation's quantity, share and the reasons
    for its __unallocated__ dimensions."""
    count = table.num_rows
    if not count:
        return pa.array([], pa.string())
    gaps = [name for name in table.column_names if name.startswith("gap__")]
    pools = pc.dictionary_encode(_column(table, col.POOL_ID))
    codes = np.asarray(pools.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    _, first = np.unique(codes, return_index=True)
    fields = (col.POOL_ID, col.METHOD, col.RULE, col.DRIVER, col.PATH, col.RUN_ID)
    heads = table.select(list(fields)).take(pa.array(first)).to_pylist()
    by_pool, usage_unit = [], []
    for head in heads:
        body = {
            col.METHOD: head[col.METHOD],
            col.RULE: head[col.RULE],
            col.DRIVER: head[col.DRIVER],
            col.PATH: head[col.PATH],
            col.POOL_ID: head[col.POOL_ID],
            col.RUN_ID: head[col.RUN_ID],
            col.SOURCES: sources.get(head[col.POOL_ID]),  # where a direct owner's values came from
        }
        by_pool.append(json.dumps({k: v for k, v in body.items() if v})[1:-1])
        driver = head[col.DRIVER]
        usage_unit.append(
            f', "UsageUnit": {json.dumps(driver)}, "UsageQuantity": ' if driver else None
        )
    at_pool = pools.indices
    quantity, pool_quantity = (
        _plain(_column(table, col.QUANTITY)),
        _plain(_column(table, col.POOL_QUANTITY)),
    )
    measured = pc.and_(pc.invert(nowhere), pc.and_(quantity.is_valid(), pool_quantity.is_valid()))
    quantity = pc.if_else(measured, quantity, pa.scalar(None, pa.string()))
    pool_quantity = pc.if_else(measured, pool_quantity, pa.scalar(None, pa.string()))
    usage = pc.binary_join_element_wise(
        pa.array(usage_unit, pa.string()).take(at_pool), quantity, ""
    )
    shares = [
        pc.binary_join_element_wise(pa.scalar(', "quantity": "'), quantity, pa.scalar('"'), ""),
        pc.binary_join_element_wise(
            pa.scalar(', "pool_quantity": "'), pool_quantity, pa.scalar('"'), ""
        ),
        pc.binary_join_element_wise(
            pa.scalar(', "share": "'), quantity, pa.scalar("/"), pool_quantity, pa.scalar('"'), ""
        ),
    ]
    return pc.binary_join_element_wise(
        usage,
        pa.scalar("}], "),
        pa.array(by_pool, pa.string()).take(at_pool),
        *shares,
        _gaps({name[len("gap__") :]: _column(table, name) for name in gaps}),
        pa.scalar("}"),
        "",
        null_handling="replace",
        null_replacement="",
    )


def _plain(column: pa.Array) -> pa.Array:
    """Exact decimals as plain text without trailing zeros (2.500 -> 2.5, 3.000 -> 3)."""
    text = pc.cast(column, pa.string())
    trimmed = pc.utf8_rtrim(pc.utf8_rtrim(text, characters="0"), characters=".")
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar("0"), trimmed)


def _gaps(gaps: dict[str, pa.Array]) -> pa.Array:
    """', "unallocated_dimensions": {...}' where an allocation has gaps (why a dimension is
    __unallocated__: dimension -> reason), else null; made once per distinct set of reasons."""
    count = len(next(iter(gaps.values()))) if gaps else 0
    code = np.zeros(count, dtype=np.int64)
    for column in gaps.values():
        encoded = pc.dictionary_encode(column)
        indices = np.asarray(pc.fill_null(encoded.indices, -1).to_numpy(), dtype=np.int64)
        code = code * (len(encoded.dictionary) + 1) + indices + 1
    _, first, inverse = np.unique(code, return_index=True, return_inverse=True)
    at = pa.array(first.astype(np.int64))
    found = {d: column.take(at).to_pylist() for d, column in gaps.items()}
    texts: list[str | None] = []
    for k in range(len(first)):
        reasons = {d: found[d][k] for d in gaps if found[d][k] is not None}
        texts.append(f', "unallocated_dimensions": {json.dumps(reasons)}' if reasons else None)
    return pa.array(texts, pa.string()).take(pa.array(inverse.astype(np.int64)))


# -- origin rows --------------------------------------------------------------------------------
@dataclass
class _Page:
    """Origin rows of one pool (or part of it), in order: where each row's line is in a line
    table, and its summable amounts in units of 10^-18."""

    lines: pa.Table
    positions: npt.NDArray[np.int64]
    values: dict[str, IntArray]
    nulls: dict[str, npt.NDArray[np.bool_]]

    def __len__(self) -> int:
        return len(self.positions)


def _line_columns() -> list[str]:
    return [t.LINE_ID, *FOCUS_1_2]


def _prepared(lines: pa.Table, dims: list[str]) -> pa.Table:
    """A line table with its Tags as JSON text and the tag value each dimension key has."""
    tags = lines[col.TAGS].combine_chunks() if lines.num_rows else pa.array([], _TAGS)
    text = [None if value is None else json.dumps(dict(value)) for value in tags.to_pylist()]
    extra = {
        f"{_TAG}{d}": pc.map_lookup(tags, pa.scalar(d), "first")
        if lines.num_rows
        else pa.array([], pa.string())
        for d in dims
    }
    table = lines.set_column(lines.schema.get_field_index(col.TAGS), col.TAGS, pa.array(text))
    for name, column in extra.items():
        table = table.append_column(name, column)
    return table


_TAGS = pa.map_(pa.string(), pa.string())


def _line_values(
    lines: pa.Table,
) -> tuple[dict[str, IntArray], dict[str, npt.NDArray[np.bool_]]]:
    """The summable amounts of bill lines as they are: every line is whole (ratio 1)."""
    values = {c: units(lines[c], t.MONEY_SCALE) for c in (*COST_METRICS, *FOLLOWING)}
    nulls = {
        c: np.asarray(lines[c].is_null().to_numpy(zero_copy_only=False), dtype=bool)
        for c in NULLABLE
    }
    ones = np.empty(lines.num_rows, dtype=object)
    ones[:] = _ONE
    values[_RATIO] = ones
    return values, nulls


# -- splitting ----------------------------------------------------------------------------------
class _PoolSplit:
    """One pool split to its targets, page after page of its origin rows."""

    def __init__(self, pool_id: str, targets: _Targets, rows: int) -> None:
        self.pool_id = pool_id
        self.start, self.stop = targets.spans.get(pool_id, (0, 0))
        if self.stop == self.start and rows:
            raise ExportError(f"pool {pool_id} has bill lines but no allocations")
        span = slice(self.start, self.stop)
        self.metrics = {m: MarginSplit(targets.amounts[m][span], rows) for m in COST_METRICS}
        # metrics whose targets are the same amounts share their cells where the lines agree
        self.same: dict[str, str] = {}
        for k, metric in enumerate(COST_METRICS):
            for other in COST_METRICS[:k]:
                if self.same.get(other, other) == other and np.array_equal(
                    targets.amounts[metric][span], targets.amounts[other][span]
                ):
                    self.same[metric] = other
                    break

    @property
    def width(self) -> int:
        return self.stop - self.start

    def split(
        self, values: dict[str, IntArray]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], dict[str, IntArray]]:
        """Rows (origin row, target in pool) with a non-zero amount, and their amounts."""
        n = self.width
        m = len(values[COST_METRICS[0]])
        cells: dict[str, IntArray] = {}
        before = {metric: self.metrics[metric].before for metric in COST_METRICS}
        for metric in COST_METRICS:
            other = self.same.get(metric)
            if (
                other is not None
                and before[other] == before[metric]
                and np.array_equal(values[metric], values[other])
            ):
                cells[metric] = cells[other]
                self.metrics[metric].skip(values[metric])
            else:
                cells[metric] = self.metrics[metric].cells(values[metric])
        if n == 1:  # the whole line goes to the only target
            rows = np.arange(m, dtype=np.int64)
            return rows, np.zeros(m, dtype=np.int64), {c: values[c] for c in SUMMABLE}
        weights = _reference_cells(values, cells, m, n)
        for column in (*FOLLOWING, _RATIO):
            amounts = values[column]
            if not amounts.any():
                cells[column] = np.zeros((m, n), dtype=object)
            else:
                cells[column] = split_rows(amounts, weights)
        kept = np.zeros((m, n), dtype=bool)
        for column in SUMMABLE:
            kept |= np.asarray(cells[column] != 0, dtype=bool)
        kept[~kept.any(axis=1), 0] = True  # a line of zeros still appears, on the first target
        rows, columns = np.nonzero(kept)
        return rows, columns, {c: cells[c][rows, columns] for c in SUMMABLE}

    def finish(self) -> None:
        for metric, split in self.metrics.items():
            try:
                split.finish()
            except SplitError as exc:
                raise ExportError(
                    f"pool {self.pool_id}, {metric}: {exc}; the allocation tables disagree "
                    "with the bill (run `apportion allocate` again)"
                ) from exc


def _reference_cells(
    values: dict[str, IntArray], cells: dict[str, IntArray], m: int, n: int
) -> IntArray:
    """Each row's cells of its first non-zero cost metric (REFERENCE): what its quantities and
    ratio follow. A row of zeros has none (zero weights)."""
    weights = np.zeros((m, n), dtype=object)
    open_rows = np.ones(m, dtype=bool)
    for metric in REFERENCE:
        chosen = open_rows & np.asarray(values[metric] != 0, dtype=bool)
        if chosen.any():
            weights[chosen] = cells[metric][chosen]
            open_rows &= ~chosen
    return weights


# -- carried cells (cascades) -------------------------------------------------------------------
class _Carried:
    """The cells of allocations that a later rule splits again: per allocation, the origin
    lines it received and their amounts. Only these stay in memory between batches."""

    def __init__(self) -> None:
        self.tables: list[pa.Table] = []

    def add(
        self,
        allocation: pa.Array,
        line: pa.Array,
        values: dict[str, IntArray],
        nulls: dict[str, npt.NDArray[np.bool_]],
    ) -> None:
        if not len(allocation):
            return
        columns: dict[str, pa.Array] = {"member": allocation, t.LINE_ID: line}
        for column in SUMMABLE:
            array = decimals(values[column], t.MONEY_SCALE)
            if column in nulls and nulls[column].any():
                array = pc.if_else(pa.array(nulls[column]), pa.scalar(None, _MONEY), array)
            columns[column] = array
        self.tables.append(pa.table(columns))

    def take(self, members: pa.Array) -> pa.Table:
        """Remove and return the cells of these allocations."""
        if not self.tables:
            return _carried_empty()
        every = pa.concat_tables(self.tables)
        wanted = pc.is_in(every["member"], value_set=members)
        self.tables = [every.filter(pc.invert(wanted))] if self.tables else []
        return every.filter(wanted)

    def left(self) -> list[str]:
        if not self.tables:
            return []
        return sorted(set(pa.concat_tables(self.tables)["member"].to_pylist()))


def _carried_empty() -> pa.Table:
    return pa.table(
        {
            "member": pa.array([], pa.string()),
            t.LINE_ID: pa.array([], pa.string()),
            **{c: pa.array([], _MONEY) for c in SUMMABLE},
        }
    )


# -- the export ---------------------------------------------------------------------------------
@dataclass
class _Pending:
    line_positions: list[npt.NDArray[np.int64]] = field(default_factory=list)
    target_positions: list[npt.NDArray[np.int64]] = field(default_factory=list)
    values: dict[str, list[IntArray]] = field(default_factory=dict)
    nulls: dict[str, list[npt.NDArray[np.bool_]]] = field(default_factory=dict)
    rows: int = 0


class _Exporter:
    def __init__(
        self,
        plane: DataPlane,
        period: Period,
        names: _Names,
        sources: dict[str, dict[str, str]],
        writer: _Writer,
        progress: Progress | None,
    ) -> None:
        self.plane = plane
        self.period = str(period)
        self.names = names
        self.sources = sources
        self.writer = writer
        self.say = progress or quiet
        self.carried = _Carried()
        self.pending = _Pending()
        self.width: dict[str, int] = {}  # allocations per pool

    # -- reading ---------------------------------------------------------------------------
    def _lines(self) -> ir.Table:
        lines = self.plane.table(t.COST_LINES)
        return lines.filter(lines[t.BILLING_PERIOD] == self.period)

    def _pool_list(self) -> list[dict[str, Any]]:
        pools = self.plane.table(t.POOLS)
        pools = pools.filter(pools[t.BILLING_PERIOD] == self.period)
        found = self.plane.to_arrow(pools.select(col.POOL_ID, col.GENERATION, col.MEMBERS))
        return sorted(found.to_pylist(), key=lambda p: (p[col.GENERATION], p[col.POOL_ID]))

    def _members(self, low: str, high: str) -> ir.Table:
        members = self.plane.table(t.POOL_MEMBERS)
        return members.filter(
            (members[t.BILLING_PERIOD] == self.period)
            & (members.pool_id >= low)
            & (members.pool_id <= high)
        )

    def _pool_lines(self, low: str, high: str) -> pa.Table:
        """The bill lines of the generation-0 pools from ``low`` to ``high``, with their pool."""
        members, lines = self._members(low, high), self._lines()
        joined = members.join(lines, members.member_id == lines[t.LINE_ID])
        expr = joined.select(pool_id=members.pool_id, **{c: lines[c] for c in _line_columns()})
        return self.plane.to_arrow(expr)

    def _fetch_lines(self, ids: pa.Array | pa.ChunkedArray) -> pa.Table:
        """Bill lines by id, one row per id in the order of ``ids`` (an id may repeat)."""
        distinct = pc.unique(ids)
        wanted = ibis.memtable(pa.table({"wanted_id": distinct}))
        lines = self._lines()
        joined = lines.join(wanted, lines[t.LINE_ID] == wanted.wanted_id)
        found = self.plane.to_arrow(joined.select(*[lines[c] for c in _line_columns()]))
        if found.num_rows != len(distinct):
            raise ExportError(
                f"{abs(len(distinct) - found.num_rows)} bill lines of the allocation are missing "
                "from cost_lines, or appear there twice (run `apportion allocate` again)"
            )
        return found.take(pc.index_in(ids, value_set=found[t.LINE_ID]))

    def _targets(self, generation: int, pools: list[str]) -> _Targets:
        allocations = self.plane.table(t.ALLOCATIONS)
        chosen = allocations.filter(
            (allocations[t.BILLING_PERIOD] == self.period)
            & (allocations.generation == generation)
            & (allocations.pool_id >= pools[0])
            & (allocations.pool_id <= pools[-1])
        )
        plane = self.plane
        table = plane.to_arrow(
            chosen.select(
                *_TARGET_COLUMNS,
                **{f"dim__{d}": plane.map_value(chosen.dimensions, d) for d in self.names.dims},
                **{
                    f"gap__{d}": ibis.ifelse(
                        plane.map_value(chosen.dimensions, d) == t.UNALLOCATED,
                        chosen.gap_reason,
                        ibis.null("string"),
                    )
                    for d in self.names.dims
                },
            )
        )
        return _targets(table, set(pools), self.names, self.sources)

    # -- the steps -------------------------------------------------------------------------
    def _widths(self) -> dict[str, int]:
        """How many allocations each pool has (a batch is sized by lines and targets)."""
        allocations = self.plane.table(t.ALLOCATIONS)
        mine = allocations.filter(allocations[t.BILLING_PERIOD] == self.period)
        counted = self.plane.to_arrow(mine.group_by(col.POOL_ID).aggregate(targets=mine.count()))
        return dict(
            zip(counted[col.POOL_ID].to_pylist(), counted["targets"].to_pylist(), strict=True)
        )

    def _size(self, pool: dict[str, Any]) -> int:
        return int(pool[col.MEMBERS]) + self.width.get(pool[col.POOL_ID], 0)

    def run(self) -> None:
        pools = self._pool_list()
        first = [p for p in pools if p[col.GENERATION] == 0]
        total = sum(p[col.MEMBERS] for p in first)
        done = 0
        self.width = self._widths()
        for batch in _batches(first, self._size):
            if len(batch) == 1 and batch[0][col.MEMBERS] > BATCH_LINES:
                self._large_pool(batch[0])
            else:
                self._first_batch(batch)
            done += sum(p[col.MEMBERS] for p in batch)
            self.say(f"{done:,} of {total:,} bill lines split")
        later = sorted({p[col.GENERATION] for p in pools if p[col.GENERATION] > 0})
        for generation in later:
            ids = [p[col.POOL_ID] for p in pools if p[col.GENERATION] == generation]
            self.say(f"splitting {len(ids):,} pools of generation {generation} again")
            self._cascade(generation, ids)
        left = self.carried.left()
        if left:
            raise ExportError(
                f"{len(left)} allocations are split again by no later pool (e.g. {left[0]}); "
                "the allocation tables are inconsistent (run `apportion allocate` again)"
            )

    def _first_batch(self, batch: list[dict[str, Any]]) -> None:
        ids = [p[col.POOL_ID] for p in batch]
        lines = self._pool_lines(ids[0], ids[-1])
        if lines.num_rows:
            lines = lines.filter(pc.is_in(lines[col.POOL_ID], value_set=pa.array(ids)))
        lines = lines.sort_by([(col.POOL_ID, "ascending"), (t.LINE_ID, "ascending")])
        spans = _spans(lines[col.POOL_ID])
        targets = self._targets(0, ids)
        prepared = _prepared(lines.drop_columns([col.POOL_ID]), self.names.dims)
        values, nulls = _line_values(lines)
        for pool in batch:
            start, stop = spans.get(pool[col.POOL_ID], (0, 0))
            if stop - start != pool[col.MEMBERS]:
                raise ExportError(
                    f"pool {pool['pool_id']} has {pool['members']} members but "
                    f"{stop - start} of them are bill lines of {self.period} (run `apportion "
                    "allocate` again)"
                )
            positions = np.arange(start, stop, dtype=np.int64)
            page = _Page(
                prepared,
                positions,
                {c: v[start:stop] for c, v in values.items()},
                {c: v[start:stop] for c, v in nulls.items()},
            )
            split = _PoolSplit(pool[col.POOL_ID], targets, stop - start)
            self._split(split, page, targets)
            split.finish()
        self._flush(prepared, targets)

    def _large_pool(self, pool: dict[str, Any]) -> None:
        """A pool of more lines than a batch: read and split a page of its lines at a time."""
        members = self._members(pool[col.POOL_ID], pool[col.POOL_ID])
        ids = self.plane.to_arrow(members.select(col.MEMBER_ID))[col.MEMBER_ID].combine_chunks()
        ordered = ids.take(pc.array_sort_indices(ids))
        targets = self._targets(0, [pool[col.POOL_ID]])
        split = _PoolSplit(pool[col.POOL_ID], targets, len(ordered))
        for start in range(0, len(ordered), BATCH_LINES):
            chunk = ordered.slice(start, BATCH_LINES)
            lines = self._fetch_lines(chunk)
            prepared = _prepared(lines, self.names.dims)
            values, nulls = _line_values(lines)
            positions = np.arange(lines.num_rows, dtype=np.int64)
            self._split(split, _Page(prepared, positions, values, nulls), targets)
            self._flush(prepared, targets)
        split.finish()

    def _cascade(self, generation: int, pool_ids: list[str]) -> None:
        # the members of this generation's pools only (their ids interleave with the bill
        # lines' pools, which have a member per line)
        pools = self.plane.table(t.POOLS)
        these = pools.filter(
            (pools[t.BILLING_PERIOD] == self.period) & (pools.generation == generation)
        ).select(chosen_pool=pools.pool_id)
        members_expr = self._members(pool_ids[0], pool_ids[-1])
        joined = members_expr.join(these, members_expr.pool_id == these.chosen_pool)
        members = self.plane.to_arrow(joined.select(members_expr.pool_id, members_expr.member_id))
        cells = self.carried.take(members[col.MEMBER_ID].combine_chunks())
        rows = _origin_rows(cells, members)
        spans = _spans(rows[col.POOL_ID])
        counts = [{col.POOL_ID: p, col.MEMBERS: _width(spans, p)} for p in pool_ids]
        for batch in _batches(counts, self._size):
            ids = [p[col.POOL_ID] for p in batch]
            targets = self._targets(generation, ids)
            splits = {p: _PoolSplit(p, targets, _width(spans, p)) for p in ids}
            # pages: whole pools while they fit a batch, a large pool a batch at a time
            for start, stop in _pages([spans.get(p, (0, 0)) for p in ids]):
                piece = rows.slice(start, stop - start)
                lines = _prepared(self._fetch_lines(piece[t.LINE_ID]), self.names.dims)
                values = {c: units(piece[c], t.MONEY_SCALE) for c in SUMMABLE}
                nulls = {
                    c: np.asarray(piece[c].is_null().to_numpy(zero_copy_only=False), dtype=bool)
                    for c in NULLABLE
                }
                local = _spans(piece[col.POOL_ID])
                for pool, (low, high) in local.items():
                    page = _Page(
                        lines,
                        np.arange(low, high, dtype=np.int64),
                        {c: v[low:high] for c, v in values.items()},
                        {c: v[low:high] for c, v in nulls.items()},
                    )
                    self._split(splits[pool], page, targets)
                self._flush(lines, targets)
            for split in splits.values():
                split.finish()

    # -- splitting and writing -------------------------------------------------------------
    def _split(self, split: _PoolSplit, page: _Page, targets: _Targets) -> None:
        """Split a page in blocks of at most BLOCK_CELLS cells; final targets' rows go to the
        output, the others' to the carried cells."""
        step = max(1, BLOCK_CELLS // max(split.width, 1))
        for start in range(0, len(page), step):
            stop = min(start + step, len(page))
            block = {c: v[start:stop] for c, v in page.values.items()}
            rows, columns, amounts = split.split(block)
            if not len(rows):
                continue
            nulls = {c: v[start:stop][rows] for c, v in page.nulls.items()}
            line_positions = page.positions[start:stop][rows]
            target_positions = split.start + columns
            final = targets.final[target_positions]
            if final.any():
                self._add(
                    line_positions[final],
                    target_positions[final],
                    {c: v[final] for c, v in amounts.items()},
                    {c: v[final] for c, v in nulls.items()},
                )
                if self.pending.rows >= FLUSH_ROWS:
                    self._flush(page.lines, targets)
            again = ~final
            if again.any():
                self.carried.add(
                    targets.table[col.ALLOCATION_ID].take(pa.array(target_positions[again])),
                    page.lines[t.LINE_ID].take(pa.array(line_positions[again])),
                    {c: v[again] for c, v in amounts.items()},
                    {c: v[again] for c, v in nulls.items()},
                )

    def _add(
        self,
        line_positions: npt.NDArray[np.int64],
        target_positions: npt.NDArray[np.int64],
        values: dict[str, IntArray],
        nulls: dict[str, npt.NDArray[np.bool_]],
    ) -> None:
        pending = self.pending
        pending.line_positions.append(line_positions)
        pending.target_positions.append(target_positions)
        for column, array in values.items():
            pending.values.setdefault(column, []).append(array)
        for column, mask in nulls.items():
            pending.nulls.setdefault(column, []).append(mask)
        pending.rows += len(line_positions)

    def _flush(self, lines: pa.Table, targets: _Targets) -> None:
        pending, self.pending = self.pending, _Pending()
        if not pending.rows:
            return
        self.writer.write(
            _assemble(
                self.writer.schema,
                self.names,
                lines,
                np.concatenate(pending.line_positions),
                targets,
                np.concatenate(pending.target_positions),
                {c: np.concatenate(v) for c, v in pending.values.items()},
                {c: np.concatenate(v) for c, v in pending.nulls.items()},
            )
        )


def _assemble(
    schema: pa.Schema,
    names: _Names,
    lines: pa.Table,
    line_positions: npt.NDArray[np.int64],
    targets: _Targets,
    target_positions: npt.NDArray[np.int64],
    values: dict[str, IntArray],
    nulls: dict[str, npt.NDArray[np.bool_]],
) -> pa.Table:
    """Output rows: the origin line's columns, the row's amounts, the target's columns."""
    at_line = pa.array(line_positions, pa.int64())
    at_target = pa.array(target_positions, pa.int64())
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    for name in FOCUS_1_2:
        if name in values:
            null = nulls.get(name)
            if null is not None and null.all():
                columns[name] = pa.nulls(len(null), _MONEY)
                continue
            array = decimals(values[name], t.MONEY_SCALE)
            if null is not None and null.any():
                array = pc.if_else(pa.array(null), pa.scalar(None, _MONEY), array)
            columns[name] = array
        else:
            columns[name] = lines[name].take(at_line).cast(schema.field(name).type)
    ratio = _plain(decimals(values[_RATIO], t.MONEY_SCALE))
    columns[col.ALLOCATED_METHOD_DETAILS] = pc.binary_join_element_wise(
        pa.scalar(_DETAILS_PREFIX), ratio, targets.columns["details"].take(at_target), ""
    )
    for name in (col.ALLOCATED_METHOD_ID, col.ALLOCATED_RESOURCE_ID, col.ALLOCATED_RESOURCE_NAME):
        columns[name] = targets.columns[name].take(at_target)
    columns[col.ALLOCATED_TAGS] = _allocated_tags(
        names, lines, line_positions, targets, target_positions
    )
    for name in (
        *[f"x_{d}" for d in names.dims],
        t.CATEGORY,
        "x_AllocationId",
        "x_UnallocatedReason",
    ):
        columns[name] = targets.columns[name].take(at_target)
    columns[t.LINE_ID] = lines[t.LINE_ID].take(at_line)
    return pa.table([columns[f.name] for f in schema], schema=schema)


def _allocated_tags(
    names: _Names,
    lines: pa.Table,
    line_positions: npt.NDArray[np.int64],
    targets: _Targets,
    target_positions: npt.NDArray[np.int64],
) -> pa.Array:
    """The target's dimension values as a JSON object, less those the origin line already has
    as tags (the specification keeps AllocatedTags to what Tags does not say); null for the
    remainder and where nothing is left. Made once per distinct (values, tags) combination,
    in codes."""
    parts = []
    for d in names.dims:
        given = targets.codes[d][target_positions]  # -1: no value
        own = pc.index_in(lines[f"{_TAG}{d}"], value_set=targets.dictionaries[d])
        own_codes = np.asarray(pc.fill_null(own, -1).to_numpy(zero_copy_only=False), np.int64)
        tagged = (own_codes[line_positions] == given) & (given >= 0)
        parts.append(np.where(tagged, -1, given))  # a value the line's tags already say: none
    if not len(target_positions):
        return pa.array([], pa.string())
    unique, inverse = np.unique(np.stack(parts, axis=1), axis=0, return_inverse=True)
    texts: list[str | None] = []
    for combination in unique.tolist():
        pairs = {
            d: targets.dictionaries[d][code].as_py()
            for d, code in zip(names.dims, combination, strict=True)
            if code >= 0
        }
        texts.append(json.dumps(pairs) if pairs else None)
    return pa.array(texts, pa.string()).take(pa.array(inverse.reshape(-1).astype(np.int64)))


# -- batches ------------------------------------------------------------------------------------
def _batches(pools: list[dict[str, Any]], size: Any) -> Iterator[list[dict[str, Any]]]:
    """Consecutive pools of at most BATCH_LINES lines and targets together; a larger pool
    alone."""
    batch: list[dict[str, Any]] = []
    lines = 0
    for pool in pools:
        count = size(pool)
        if batch and lines + count > BATCH_LINES:
            yield batch
            batch, lines = [], 0
        batch.append(pool)
        lines += count
    if batch:
        yield batch


def _pages(spans: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """Row ranges over consecutive pools' spans: whole pools while they fit BATCH_LINES, a
    larger pool in pieces of BATCH_LINES rows."""
    start = stop = None
    for low, high in spans:
        if high == low:
            continue
        if start is not None and stop is not None and high - start > BATCH_LINES:
            yield start, stop
            start = None
        if high - low > BATCH_LINES:
            for piece in range(low, high, BATCH_LINES):
                yield piece, min(piece + BATCH_LINES, high)
            continue
        if start is None:
            start = low
        stop = high
    if start is not None and stop is not None:
        yield start, stop


def _spans(pool_ids: pa.ChunkedArray | pa.Array) -> dict[str, tuple[int, int]]:
    """Where each pool's rows are in a column sorted by pool."""
    values = np.asarray(pool_ids.to_numpy(zero_copy_only=False), dtype=object)
    if not len(values):
        return {}
    edges = np.flatnonzero(values[1:] != values[:-1]) + 1
    starts = np.r_[0, edges]
    stops = np.r_[edges, len(values)]
    return {values[a]: (int(a), int(b)) for a, b in zip(starts, stops, strict=True)}


def _width(spans: dict[str, tuple[int, int]], pool: str) -> int:
    low, high = spans.get(pool, (0, 0))
    return high - low


def _origin_rows(cells: pa.Table, members: pa.Table) -> pa.Table:
    """A later generation's origin rows: the cells its pools' member allocations received,
    summed per (pool, bill line), sorted by pool and line."""
    joined = cells.join(
        members.select([col.POOL_ID, col.MEMBER_ID]), keys="member", right_keys=col.MEMBER_ID
    )
    if not joined.num_rows:
        return _carried_empty().rename_columns([col.POOL_ID, *_carried_empty().column_names[1:]])
    joined = joined.sort_by([(col.POOL_ID, "ascending"), (t.LINE_ID, "ascending")])
    pools = np.asarray(joined[col.POOL_ID].to_numpy(zero_copy_only=False), dtype=object)
    lines = np.asarray(joined[t.LINE_ID].to_numpy(zero_copy_only=False), dtype=object)
    change = (pools[1:] != pools[:-1]) | (lines[1:] != lines[:-1])
    starts = np.r_[0, np.flatnonzero(change) + 1].astype(np.int64)
    at = pa.array(starts)
    columns: dict[str, pa.Array] = {
        col.POOL_ID: joined[col.POOL_ID].combine_chunks().take(at),
        t.LINE_ID: joined[t.LINE_ID].combine_chunks().take(at),
    }
    for column in SUMMABLE:
        summed = np.add.reduceat(units(joined[column], t.MONEY_SCALE), starts)
        array = decimals(np.asarray(summed, dtype=object), t.MONEY_SCALE)
        if column in NULLABLE:
            null = joined[column].combine_chunks().is_null().take(at)
            array = pc.if_else(null, pa.scalar(None, _MONEY), array)
        columns[column] = array
    return pa.table(columns)
