"""Quarantined rows: what was refused, where it was in the file, why, and the money at stake.

A refused cost row keeps every cost metric's cell as written (BilledCost, EffectiveCost,
ListCost, ContractedCost) with its currency, so reports can count the money quarantine holds
back per metric, not only the rows. The amounts are summed in Python's exact context: a file
of huge refused amounts must not overflow the engine's DECIMAL(38, 18) while it is reported.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir

from apportion.engine.dataplane import DataPlane
from apportion.ingest import values
from apportion.money import add, plain
from apportion.schema import columns as col
from apportion.schema import tables as t
from apportion.schema.focus import COST_METRICS

# the quarantine table's column that keeps each cost metric's cell as written
METRIC_TEXTS: dict[str, str] = {
    col.BILLED_COST: "cost_text",
    col.EFFECTIVE_COST: "effective_cost_text",
    col.LIST_COST: "list_cost_text",
    col.CONTRACTED_COST: "contracted_cost_text",
}
assert set(METRIC_TEXTS) == set(COST_METRICS), "every cost metric is kept"

# a reason names its column first ("BilledCost: '12,5O' is not a valid money")
_COLUMN = r"^([A-Za-z_][A-Za-z0-9_/:.\- ]*?): "

# currency -> metric -> amount
Money = dict[str, dict[str, Decimal]]


def quarantine_rows(
    bad: ir.Table,
    *,
    kind: str,
    source: str,
    file_hash: str,
    file_name: str,
    period: ir.StringValue,
    currency: ir.Value | None = None,
    cost_text: ir.Value | None = None,
) -> ir.Table:
    """Rows of ``bad`` (which carries ``x_RowNumber`` and ``_reason``) in the quarantine
    table's shape. ``cost_text`` keeps the BilledCost cell as written; the other metrics'
    cells are taken from ``_t_<metric>`` where ``bad`` carries them (how the FOCUS reader,
    which every cost format goes through, keeps each cell's text), so the refused cost
    shows in reports per metric."""
    texts: dict[str, ir.Value] = {}
    for metric, column in METRIC_TEXTS.items():
        given = cost_text if metric == col.BILLED_COST else None
        if given is None and f"_t_{metric}" in bad.columns:
            given = bad[f"_t_{metric}"]
        texts[column] = given if given is not None else ibis.null("string")
    return bad.select(
        **{
            t.SOURCE: ibis.literal(source),
            t.FILE_HASH: ibis.literal(file_hash),
            "file": ibis.literal(file_name),
            "kind": ibis.literal(kind),
            "line": bad[t.ROW_NUMBER],
            "reason": bad._reason,
            t.BILLING_PERIOD: period,
            "currency": currency if currency is not None else ibis.null("string"),
            **texts,
            "column": bad._reason.re_extract(_COLUMN, 1).nullif(""),
        }
    )


@dataclass
class QuarantinedFile:
    """One file's refused rows: how many, of which kinds, and the money they hold back."""

    source: str
    file: str
    file_hash: str
    kinds: dict[str, int] = field(default_factory=dict)
    periods: list[str] = field(default_factory=list)
    money: Money = field(default_factory=dict)
    # rows with a cost cell that is no readable amount, per metric: shown by `show`, in no sum
    unreadable: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.kinds.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "file": self.file,
            "file_hash": self.file_hash,
            "rows": self.rows,
            "kinds": self.kinds,
            "periods": self.periods,
            "money": money_texts(self.money),
            "unreadable_amounts": self.unreadable,
        }


@dataclass(frozen=True)
class QuarantinedRow:
    source: str
    file: str
    file_hash: str
    kind: str
    line: int | None
    column: str | None
    reason: str
    period: str | None
    currency: str | None
    # metric -> the cell as written (absent where the row had no such cell)
    cells: dict[str, str]
    # metric -> the amount it reads as (absent where the cell is no readable amount)
    amounts: dict[str, Decimal]

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "file": self.file,
            "file_hash": self.file_hash,
            "kind": self.kind,
            "line": self.line,
            "column": self.column,
            "reason": self.reason,
            "period": self.period,
            "currency": self.currency,
            "cells": self.cells,
            "amounts": {metric: format(amount, "f") for metric, amount in self.amounts.items()},
        }


def quarantined(
    plane: DataPlane,
    *,
    period: str | None = None,
    source: str | None = None,
    file: str | None = None,
) -> list[QuarantinedRow]:
    """The refused rows, in file and line order. ``period`` keeps the rows of that billing
    month and those whose month could not be read (they may belong to it); ``file`` is a
    file name or a prefix of its content hash (at least 6 characters)."""
    table = plane.table(t.QUARANTINE)
    if period is not None:
        table = table.filter((table[t.BILLING_PERIOD] == period) | table[t.BILLING_PERIOD].isnull())
    if source is not None:
        table = table.filter(table[t.SOURCE] == source)
    if file is not None:
        named = table.file == file
        if len(file) >= 6:
            named |= table[t.FILE_HASH].startswith(file.lower())
        table = table.filter(named)
    parsed = table.mutate(
        **{f"_amount_{metric}": _amount(table[column]) for metric, column in METRIC_TEXTS.items()}
    )
    ordered = parsed.order_by([t.SOURCE, "file", t.FILE_HASH, "line"])
    return [_row(found) for found in plane.to_arrow(ordered).to_pylist()]


def _amount(cell: ir.StringValue) -> ir.Value:
    """The amount a kept cell reads as, or NULL. An exponent of four digits or more is no
    amount any column holds; it is left unread here rather than handed to the parser."""
    huge = cell.re_search(r"[eE][+-]?0*\d{4,}")
    return values.decimal(ibis.ifelse(huge, ibis.null("string"), cell)).value


def _row(found: dict[str, Any]) -> QuarantinedRow:
    cells = {m: found[c] for m, c in METRIC_TEXTS.items() if found[c] is not None}
    amounts = {m: found[f"_amount_{m}"] for m in METRIC_TEXTS if found[f"_amount_{m}"] is not None}
    return QuarantinedRow(
        source=found[t.SOURCE],
        file=found["file"],
        file_hash=found[t.FILE_HASH],
        kind=found["kind"],
        line=found["line"],
        column=found["column"],
        reason=found["reason"] or "",
        period=found[t.BILLING_PERIOD],
        currency=found["currency"],
        cells=cells,
        amounts=amounts,
    )


def by_file(rows: list[QuarantinedRow]) -> list[QuarantinedFile]:
    """The rows summed per file (source, name and content): rows per kind, money per
    currency and metric, and the cells that are no readable amount."""
    files: dict[tuple[str, str, str], QuarantinedFile] = {}
    for row in rows:
        key = (row.source, row.file, row.file_hash)
        found = files.setdefault(key, QuarantinedFile(row.source, row.file, row.file_hash))
        found.kinds[row.kind] = found.kinds.get(row.kind, 0) + 1
        if row.period is not None and row.period not in found.periods:
            found.periods.append(row.period)
        _count(found.money, found.unreadable, row)
    for found in files.values():
        found.periods.sort()
    return list(files.values())


def money_at_stake(rows: list[QuarantinedRow]) -> Money:
    """The refused amounts per currency and cost metric, summed exactly."""
    money: Money = {}
    for row in rows:
        _count(money, {}, row)
    return money


def _count(money: Money, unreadable: dict[str, int], row: QuarantinedRow) -> None:
    currency = row.currency or "?"  # a currency that could not be read is still money
    for metric, amount in row.amounts.items():
        into = money.setdefault(currency, {})
        into[metric] = add(into.get(metric, Decimal(0)), amount)
    for metric in row.cells.keys() - row.amounts.keys():
        unreadable[metric] = unreadable.get(metric, 0) + 1


def money_texts(money: Money) -> dict[str, dict[str, str]]:
    """For JSON: exact amounts as plain decimal text, metrics in FOCUS order."""
    return {
        currency: {m: format(by_metric[m], "f") for m in COST_METRICS if m in by_metric}
        for currency, by_metric in sorted(money.items())
    }


def money_line(money: Money) -> str:
    """``USD BilledCost 12.5, EffectiveCost 12`` per currency; empty when nothing is at stake."""
    parts = []
    for currency, by_metric in sorted(money.items()):
        amounts = ", ".join(
            f"{metric} {plain(by_metric[metric])}" for metric in COST_METRICS if metric in by_metric
        )
        parts.append(f"{currency} {amounts}")
    return "; ".join(parts)


def rows_by_kind(rows: list[QuarantinedRow]) -> dict[str, int]:
    counted: dict[str, int] = defaultdict(int)
    for row in rows:
        counted[row.kind] += 1
    return dict(counted)
