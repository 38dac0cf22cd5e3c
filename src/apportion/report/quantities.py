"""Quantities that are not money (energy, emissions, GPU time), as the period's published run
split them (apportion.allocate.quantities): each one's amount per value of a dimension, in its
own unit, with what no key reached as ``__unallocated__``. Never added to money."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from apportion.errors import UsageError
from apportion.ledger.published import published_run
from apportion.money import exact_sum
from apportion.periods import Period
from apportion.schema import tables as t
from apportion.workspace import Workspace


@dataclass(frozen=True)
class QuantityLine:
    quantity: str
    unit: str
    value: str  # of the dimension the report is by
    amount: Decimal

    def as_dict(self, by: str) -> dict[str, Any]:
        return {
            "quantity": self.quantity,
            "unit": self.unit,
            by: self.value,
            "amount": f"{self.amount:f}",
        }


def quantity_lines(workspace: Workspace, period: Period, by: str) -> list[QuantityLine]:
    """Each configured quantity's split summed by one dimension; a total line per quantity
    (value ``TOTAL``) after its lines."""
    dims = workspace.config.dimensions
    if by not in dims:
        raise UsageError(f"cannot report quantities by {by!r}: choose from {', '.join(dims)}")
    published_run(workspace, period)  # refused for a period with no published run
    plane = workspace.data
    rows = plane.table(t.QUANTITY_ALLOCATIONS)
    rows = rows.filter(rows[t.BILLING_PERIOD] == str(period))
    value = plane.map_value(rows.dimensions, by).fill_null(t.UNALLOCATED)
    grouped = rows.group_by(quantity=rows.quantity_name, unit=rows.unit, value=value).aggregate(
        amount=rows.amount.sum()
    )
    found = plane.to_arrow(grouped.order_by(["quantity", "unit", "value"])).to_pylist()
    lines: list[QuantityLine] = []
    for quantity in workspace.config.quantities:
        mine = [row for row in found if row["quantity"] == quantity.name]
        lines.extend(
            QuantityLine(quantity.name, row["unit"], row["value"], row["amount"]) for row in mine
        )
        total = exact_sum(row["amount"] for row in mine)
        lines.append(QuantityLine(quantity.name, quantity.unit, "TOTAL", total))
    return lines
