"""Statements: allocated cost grouped by dimensions (and category), rounded to the currency's
minor unit once, by largest remainder, so the lines add up to the rounded total exactly."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from apportion.allocate.split import round_to_total
from apportion.money import exact_sum
from apportion.periods import Period
from apportion.report.published import final_allocations
from apportion.schema import tables as t
from apportion.schema.currency import minor_units
from apportion.schema.focus import COST_METRICS
from apportion.workspace import Workspace

# Groupings besides the configured dimensions, and the allocation column each one reads.
EXTRA_GROUPS = {
    "category": t.CATEGORY,
    "method": "method",
    "rule": "rule",
    "provider": "ProviderName",
    "service": "ServiceName",
    "charge_category": "ChargeCategory",
}


class StatementError(ValueError):
    pass


@dataclass(frozen=True)
class StatementLine:
    keys: dict[str, str]
    currency: str
    amounts: dict[str, Decimal]  # rounded to the currency's minor unit
    exact: dict[str, Decimal]

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.keys,
            "currency": self.currency,
            **{metric: str(value) for metric, value in self.amounts.items()},
        }


def statements(
    workspace: Workspace, period: Period, by: Sequence[str]
) -> tuple[list[StatementLine], list[StatementLine]]:
    """The statement lines and one total line per currency."""
    dims = workspace.config.dimensions
    unknown = [name for name in by if name not in dims and name not in EXTRA_GROUPS]
    if unknown or not by:
        raise StatementError(
            f"cannot group by {', '.join(unknown) or 'nothing'}: choose from "
            f"{', '.join([*dims, *EXTRA_GROUPS])}"
        )
    final = final_allocations(workspace, period)
    keys = {
        name: (final.dimensions[name] if name in dims else final[EXTRA_GROUPS[name]]).fill_null(
            "(none)"
        )
        for name in by
    }
    grouped = final.group_by(currency=final.BillingCurrency, **keys).aggregate(
        **{metric: final[metric].sum() for metric in COST_METRICS}
    )
    rows = workspace.data.to_arrow(grouped.order_by(["currency", *by])).to_pylist()
    by_currency: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_currency[row["currency"]].append(row)
    lines: list[StatementLine] = []
    totals: list[StatementLine] = []
    for currency, group in sorted(by_currency.items()):
        places = minor_units(currency)
        rounded = {
            metric: round_to_total([row[metric] or Decimal(0) for row in group], places)
            for metric in COST_METRICS
        }
        for index, row in enumerate(group):
            lines.append(
                StatementLine(
                    keys={name: row[name] for name in by},
                    currency=currency,
                    amounts={metric: rounded[metric][index] for metric in COST_METRICS},
                    exact={metric: row[metric] or Decimal(0) for metric in COST_METRICS},
                )
            )
        totals.append(
            StatementLine(
                keys=dict.fromkeys(by, "TOTAL"),
                currency=currency,
                amounts={m: exact_sum(rounded[m]) for m in COST_METRICS},
                exact={m: exact_sum(r[m] for r in group) for m in COST_METRICS},
            )
        )
    return lines, totals
