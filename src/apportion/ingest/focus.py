"""FOCUS 1.0-1.3 cost files (CSV or Parquet) into canonical cost lines.

Headers are matched to FOCUS names ignoring case; any other column is kept in the line's
``x_Extensions`` map. Each row either becomes a cost line or is quarantined with its line number
and the first reason it failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from apportion.engine.dataplane import FileError
from apportion.ingest import values
from apportion.schema import tables as t
from apportion.schema.currency import ISO_4217
from apportion.schema.focus import COST_METRICS, FOCUS_COLUMNS, IDENTIFYING_COLUMNS, Kind
from apportion.schema.focus import canonical_name as focus_name

_REASON_LIMIT = 240


@dataclass(frozen=True)
class Normalised:
    lines: ir.Table
    quarantine: ir.Table


def recognise(headers: list[str]) -> bool:
    """A file is FOCUS when it has a cost metric and at least one other identifying column."""
    names = {focus_name(h) for h in headers}
    return bool(names & set(COST_METRICS)) and len(names & IDENTIFYING_COLUMNS) >= 2


def normalise(
    staged: ir.Table,
    headers: dict[str, str],
    *,
    source: str,
    file_hash: str,
    file_name: str,
    default_currency: str,
    categorise: Callable[[ir.Table], ir.StringValue],
) -> Normalised:
    """``headers`` maps each staged column to the header text the file gave it."""
    by_focus: dict[str, str] = {}
    extensions: dict[str, str] = {}
    for column, header in headers.items():
        name = focus_name(header)
        if name is None:
            extensions[header.strip()] = column
        elif name in by_focus:
            raise FileError(f"{file_name}: column {name} appears twice")
        else:
            by_focus[name] = column
    if not recognise(list(headers.values())):
        raise FileError(
            f"{file_name}: no FOCUS cost columns found (expected BilledCost and "
            "BillingPeriodStart or similar); use --format drivers for metering files"
        )
    if "BillingPeriodStart" not in by_focus and "ChargePeriodStart" not in by_focus:
        raise FileError(f"{file_name}: neither BillingPeriodStart nor ChargePeriodStart present")

    parsed: dict[str, ir.Value] = {}
    problems: list[tuple[ir.BooleanValue, str]] = []
    for name, kind in FOCUS_COLUMNS.items():
        column = by_focus.get(name)
        if column is None:
            parsed[name] = ibis.null(_null_type(kind))
            continue
        cell = staged[column]
        if kind in (Kind.MONEY, Kind.DECIMAL):
            result = values.decimal(cell)
        elif kind is Kind.TIMESTAMP:
            result = values.timestamp(cell)
        elif kind is Kind.TAGS:
            result = values.tags(cell)
        else:
            parsed[name] = values.text(cell)
            continue
        parsed[name] = result.value
        problems.append((result.invalid, f"{name}: {{}} is not a valid {kind.value}"))

    currency = parsed["BillingCurrency"].upper() if "BillingCurrency" in by_focus else None
    parsed["BillingCurrency"] = currency if currency is not None else ibis.literal(default_currency)
    period_start = parsed["BillingPeriodStart"].fill_null(parsed["ChargePeriodStart"])
    period = period_start.strftime("%Y-%m")

    reason = _first_reason(staged, by_focus, problems, parsed, period)
    extension_map = _extension_map(staged, extensions)
    rows = staged.mutate(
        **{f"_p_{name}": value for name, value in parsed.items()},
        _reason=reason,
        _period=period,
        _extensions=extension_map,
    )
    good = rows.filter(rows._reason.isnull())
    lines = good.select(
        **{
            t.LINE_ID: ibis.literal(f"{file_hash[:16]}:") + good[t.ROW_NUMBER].cast("string"),
            t.SOURCE: ibis.literal(source),
            t.FILE_HASH: ibis.literal(file_hash),
            t.ROW_NUMBER: good[t.ROW_NUMBER],
            t.BILLING_PERIOD: good._period,
        },
        **{name: good[f"_p_{name}"] for name in FOCUS_COLUMNS},
        **{t.EXTENSIONS: good._extensions},
    )
    lines = lines.mutate(**{t.CATEGORY: categorise(lines)})
    bad = rows.filter(rows._reason.notnull())
    billed = by_focus.get("BilledCost")
    quarantine = bad.select(
        **{
            t.SOURCE: ibis.literal(source),
            t.FILE_HASH: ibis.literal(file_hash),
            "file": ibis.literal(file_name),
            "kind": ibis.literal("cost"),
            "line": bad[t.ROW_NUMBER],
            "reason": bad._reason,
            t.BILLING_PERIOD: bad._period,
            "currency": values.text(bad[by_focus["BillingCurrency"]])
            if "BillingCurrency" in by_focus
            else ibis.literal(default_currency),
            "cost_text": values.text(bad[billed]) if billed else ibis.null("string"),
        }
    )
    return Normalised(lines, quarantine)


def _first_reason(
    staged: ir.Table,
    by_focus: dict[str, str],
    problems: list[tuple[ir.BooleanValue, str]],
    parsed: dict[str, ir.Value],
    period: ir.StringValue,
) -> ir.StringValue:
    cases: list[tuple[ir.BooleanValue, ir.StringValue]] = []
    for invalid, template in problems:
        column = template.split(":", 1)[0]
        cell = values.text(staged[by_focus[column]]).substr(0, 60)
        before, after = template.split("{}")
        cases.append((invalid, before + "'" + cell + "'" + after))
    currency = parsed["BillingCurrency"]
    cases.append(
        (
            currency.isnull() | ~currency.isin(sorted(ISO_4217)),
            "BillingCurrency: '" + currency.fill_null("") + "' is not an ISO 4217 currency code",
        )
    )
    cases.append((period.isnull(), ibis.literal("no BillingPeriodStart or ChargePeriodStart")))
    return ibis.cases(*cases, else_=ibis.null("string")).substr(0, _REASON_LIMIT)


def _extension_map(staged: ir.Table, extensions: dict[str, str]) -> ir.Value:
    if not extensions:
        return ibis.null("map<string, string>")
    keys = list(extensions)
    return ibis.map(ibis.array(keys), ibis.array([values.text(staged[extensions[k]]) for k in keys]))


def _null_type(kind: Kind) -> str:
    return {
        Kind.STRING: "string",
        Kind.MONEY: f"decimal(38, {t.MONEY_SCALE})",
        Kind.DECIMAL: f"decimal(38, {t.MONEY_SCALE})",
        Kind.TIMESTAMP: "timestamp",
        Kind.TAGS: "map<string, string>",
    }[kind]
