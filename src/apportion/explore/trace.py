"""Lineage of statement lines: the path from a line (or a cost centre's, or a use case's lines)
up through its allocations, pools and driver quantities to the bill lines, with each bill
line's part of the line: its share of its pool, multiplied along every split on the way.

A final allocation ``A`` of pool ``P`` (amount ``S``) takes ``a / S`` of each of ``P``'s
members, whose amounts are ``a``: bill lines for a pool of generation 0, allocations of
earlier pools otherwise, whose pools are traced the same way. The parts are exact fractions
and sum exactly to the allocations behind the lines; they are rounded once, by largest
remainder, to the lines' rounded total, so what the trace shows adds up to the statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

import ibis

from apportion.access import Caller
from apportion.allocate.split import round_shares
from apportion.errors import NotFoundError, UsageError
from apportion.explore.drill import SHARE_PLACES, behind, line_dict, plain_row
from apportion.explore.overview import visible_lines
from apportion.explore.scope import Scoped, scoped
from apportion.ledger.lines import ADJUSTMENT, Line
from apportion.money import EXACT, exact_sum
from apportion.schema import columns as col
from apportion.schema import tables as t
from apportion.schema.currency import minor_units
from apportion.workspace import Workspace

POOL_COLUMNS = (
    col.POOL_ID,
    col.GENERATION,
    col.RULE,
    col.METHOD,
    col.DRIVER,
    col.WINDOW_START,
    col.RESOURCE_ID,
    col.PROVIDER_NAME,
    col.SERVICE_NAME,
)
BILL_COLUMNS = (
    t.LINE_ID,
    col.CHARGE_PERIOD_START,
    col.PROVIDER_NAME,
    col.SERVICE_NAME,
    col.RESOURCE_ID,
    t.SOURCE,
    t.ROW_NUMBER,
)


@dataclass(frozen=True)
class Selection:
    """Which statement lines to trace: one by id, or every line of a cost centre and/or a
    use case (the ledger's payer and workload dimensions)."""

    line_id: str | None = None
    payer: str | None = None
    workload: str | None = None

    def __post_init__(self) -> None:
        if self.line_id is None and self.payer is None and self.workload is None:
            raise UsageError("name a statement line (--line), a cost centre or a use case")

    def picks(self, line: Line) -> bool:
        if self.line_id is not None:
            return line.line_id == self.line_id
        return (self.payer is None or line.payer == self.payer) and (
            self.workload is None or line.workload == self.workload
        )


def trace(
    workspace: Workspace,
    period: str,
    selection: Selection,
    caller: Caller,
    *,
    limit: int | None = 20,
) -> dict[str, Any]:
    """The selected lines, the pools their cost passed through (largest part first), and the
    bill lines it came from with each one's exact part and its part rounded to the lines'
    total. ``limit``: how many pools and bill lines to list (the rest are summed)."""
    lines = [
        line for line in visible_lines(workspace, period, caller) or [] if selection.picks(line)
    ]
    if not lines:
        raise NotFoundError(f"no statement line in {period} matches {_said(selection)}")
    currencies = sorted({line.currency for line in lines})
    if len(currencies) > 1:
        raise UsageError(
            f"the lines are in {', '.join(currencies)}: trace one currency at a time (--line)"
        )
    scope = scoped(workspace, period, caller)
    metric = workspace.config.ledger.metric
    traced = [line for line in lines if line.method != ADJUSTMENT]
    walk = _Walk(scope, metric)
    walk.start(traced)
    walk.up()
    bill = walk.bill_lines()
    places = minor_units(currencies[0])
    total = exact_sum(line.amount for line in traced)
    parts = [part for _, part in bill]
    rounded = round_shares(parts, places, total) if parts else []
    rows = [
        _bill_row(row, part, shown, metric)
        for (row, part), shown in zip(bill, rounded, strict=True)
    ]
    rows.sort(key=lambda row: (-abs(Decimal(row["exact"])), row[t.LINE_ID]))
    pools = sorted(walk.pool_rows(), key=lambda p: (-abs(p["traced_exact"]), p[col.POOL_ID]))
    shown = _head(rows, limit)
    return {
        "period": period,
        "metric": metric,
        "currency": currencies[0],
        col.RUN_ID: scope.run_id,
        "lines": [line_dict(line) for line in lines],
        "total": f"{total:f}",
        "adjustments": [line_dict(line) for line in lines if line.method == ADJUSTMENT],
        "pools": [_pool_out(p) for p in _head(pools, limit)],
        "pools_total": len(pools),
        "bill_lines": shown,
        "bill_lines_total": len(rows),
        "bill_lines_more": f"{exact_sum(Decimal(r['to_line']) for r in rows[len(shown) :]):f}",
    }


class _Walk:
    """Exact parts of every pool and bill line in the lines' cost, generation by generation
    from the final allocations up."""

    def __init__(self, scope: Scoped, metric: str) -> None:
        self.scope, self.metric = scope, metric
        self.plane = scope.workspace.data
        self.demand: dict[str, Fraction] = {}  # pool id -> the part of it traced
        self.pools: dict[str, dict[str, Any]] = {}  # pool id -> its columns and amount
        self.quantities: dict[str, tuple[Decimal, Decimal | None]] = {}  # traced, of pool's
        self.frontier: set[str] = set()

    def start(self, lines: Sequence[Line]) -> None:
        """The final allocations behind the lines: each one's amount is owed by its pool."""
        if not lines:
            return
        finals = ibis.union(*(behind(self.scope, line) for line in lines), distinct=False)
        grouped = finals.group_by(col.POOL_ID).aggregate(
            amount=finals[self.metric].sum(),
            quantity=finals[col.QUANTITY].sum(),
            pool_quantity=finals[col.POOL_QUANTITY].max(),
        )
        for row in self.plane.to_arrow(grouped).to_pylist():
            pool_id = row[col.POOL_ID]
            self.demand[pool_id] = self.demand.get(pool_id, Fraction(0)) + Fraction(row["amount"])
            if row["quantity"] is not None:
                self.quantities[pool_id] = (row["quantity"], row["pool_quantity"])
        self.frontier = set(self.demand)

    def up(self) -> None:
        """Pools of later generations pass their part on to the allocations that filled them,
        which their own pools owe in turn; generation 0 is left for the bill lines."""
        for _ in range(len(self.scope.workspace.config.rules) + 2):
            if not self.frontier:
                return
            later = self._read_pools(self.frontier)
            self.frontier = set()
            if not later:
                return
            members = self.scope.members()
            members = members.filter(members.pool_id.isin(later))
            allocations = self.scope.allocations()
            joined = members.join(
                allocations, members.member_id == allocations.allocation_id
            ).select(
                parent=members.pool_id,
                pool_id=allocations.pool_id,
                amount=allocations[self.metric],
            )
            for row in self.plane.to_arrow(joined).to_pylist():
                part = self._part(row["parent"], row["amount"])
                pool_id = row[col.POOL_ID]
                self.demand[pool_id] = self.demand.get(pool_id, Fraction(0)) + part
                self.frontier.add(pool_id)

    def _read_pools(self, ids: Iterable[str]) -> list[str]:
        """Read the pools' columns; the ids of those of a later generation."""
        pools = self.scope.pools()
        wanted = sorted(set(ids) - set(self.pools))
        if wanted:
            rows = self.plane.to_arrow(
                pools.filter(pools.pool_id.isin(wanted)).select(*POOL_COLUMNS, self.metric)
            ).to_pylist()
            for row in rows:
                self.pools[row[col.POOL_ID]] = row
        return sorted(i for i in ids if self.pools[i][col.GENERATION] > 0)

    def _part(self, pool_id: str, amount: Decimal | None) -> Fraction:
        """A member's part of what is traced of its pool: its share of the pool's amount."""
        whole = self.pools[pool_id][self.metric]
        if not whole or amount is None:
            return Fraction(0)  # a pool that nets to nothing passes nothing on
        return self.demand[pool_id] * Fraction(amount) / Fraction(whole)

    def bill_lines(self) -> list[tuple[dict[str, Any], Fraction]]:
        """Every bill line of a traced pool of generation 0, with its exact part."""
        first = sorted(p for p, row in self.pools.items() if row[col.GENERATION] == 0)
        self._read_pools(first)
        if not first:
            return []
        members = self.scope.members()
        members = members.filter(members.pool_id.isin(first))
        lines = self.plane.table(t.COST_LINES)
        lines = lines.filter(lines[t.BILLING_PERIOD] == self.scope.period)
        joined = members.join(lines, members.member_id == lines[t.LINE_ID]).select(
            members.pool_id, *(lines[c] for c in BILL_COLUMNS), amount=lines[self.metric]
        )
        rows = self.plane.to_arrow(joined).to_pylist()
        return [(row, self._part(row[col.POOL_ID], row["amount"])) for row in rows]

    def pool_rows(self) -> list[dict[str, Any]]:
        found = []
        for pool_id, part in self.demand.items():
            row = dict(self.pools.get(pool_id) or self._read_one(pool_id))
            row["amount"] = row.pop(self.metric)
            row["traced_exact"] = part
            quantity, of = self.quantities.get(pool_id, (None, None))
            row["quantity"], row["pool_quantity"] = quantity, of
            found.append(row)
        return found

    def _read_one(self, pool_id: str) -> dict[str, Any]:
        self._read_pools([pool_id])
        return self.pools[pool_id]


def _head(rows: list[Any], limit: int | None) -> list[Any]:
    return rows if not limit else rows[:limit]


def _bill_row(row: dict[str, Any], part: Fraction, shown: Decimal, metric: str) -> dict[str, Any]:
    amount = row["amount"]
    share = part / Fraction(amount) if amount else None
    plain = plain_row({c: row[c] for c in (col.POOL_ID, *BILL_COLUMNS)})
    return {
        **plain,
        metric: None if amount is None else f"{amount:f}",
        "share": None if share is None else _percent(share),
        "exact": _decimal(part),
        "to_line": f"{shown:f}",
    }


def _pool_out(row: dict[str, Any]) -> dict[str, Any]:
    out = plain_row({k: v for k, v in row.items() if k != "traced_exact"})
    out["traced"] = _decimal(row["traced_exact"])
    amount = row["amount"]
    out["share"] = _percent(row["traced_exact"] / Fraction(amount)) if amount else None
    return out


def _decimal(value: Fraction, places: int = 18) -> str:
    """An exact part shown to 18 places (half to even): the engines' money scale."""
    quotient = EXACT.divide(Decimal(value.numerator), Decimal(value.denominator))
    return f"{EXACT.quantize(quotient, Decimal(1).scaleb(-places)):f}"


def _percent(share: Fraction) -> str:
    percent = EXACT.divide(Decimal(share.numerator * 100), Decimal(share.denominator))
    return f"{EXACT.quantize(percent, SHARE_PLACES):f}"


def _said(selection: Selection) -> str:
    if selection.line_id is not None:
        return f"id {selection.line_id}"
    said = [
        f"{what} {value}"
        for what, value in (("cost centre", selection.payer), ("use case", selection.workload))
        if value is not None
    ]
    return " and ".join(said)
