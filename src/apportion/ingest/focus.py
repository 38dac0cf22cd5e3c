"""FOCUS 1.0-1.3 cost files (CSV or Parquet) into canonical cost lines.

Headers are matched to FOCUS names ignoring case; any other column is kept in the line's
``x_Extensions`` map. Each row either becomes a cost line or is quarantined with its line number
and the first reason it failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import ibis
import ibis.expr.types as ir

from apportion.engine.dataplane import DataPlane, FileError
from apportion.ingest import values
from apportion.ingest.quarantine import quarantine_rows
from apportion.ingest.readers import Table
from apportion.ingest.registry import reader
from apportion.schema import columns as col
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


# its stager (apportion.ingest.readers): the file staged as it is, told by its columns
READER = Table(reader("focus"), lambda columns, config: recognise(columns))


def normalise(
    staged: ir.Table,
    headers: dict[str, str],
    *,
    source: str,
    file_hash: str,
    file_name: str,
    default_currency: str,
    categorise: Callable[[ir.Table], ir.StringValue],
    plane: DataPlane,
) -> Normalised:
    """``headers`` maps each staged column to the header text the file gave it."""
    by_focus: dict[str, str] = {}
    extensions: dict[str, str] = {}
    for column, header in headers.items():
        name = focus_name(header)
        if name is None:
            if header.strip() in extensions:
                raise FileError(f"{file_name}: column {header.strip()!r} appears twice")
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
    if col.BILLED_COST not in by_focus:
        # every other metric is optional in FOCUS; without this one every line would load
        # with no cost, silently
        raise FileError(f"{file_name}: no BilledCost column; a FOCUS cost file must have one")
    if col.BILLING_PERIOD_START not in by_focus and col.CHARGE_PERIOD_START not in by_focus:
        raise FileError(f"{file_name}: neither BillingPeriodStart nor ChargePeriodStart present")

    # Stage 1: parse every cell once and materialise, so stage 2 (reasons, categories) reads
    # plain columns instead of repeating the parsing expressions.
    parsed_columns: dict[str, ir.Value] = {t.ROW_NUMBER: staged[t.ROW_NUMBER]}
    checked: list[tuple[str, Kind]] = []
    for name, kind in FOCUS_COLUMNS.items():
        if name not in by_focus:
            continue
        cell = staged[by_focus[name]]
        if kind is Kind.STRING:
            parsed_columns[f"_p_{name}"] = values.text(cell)
            continue
        parser: dict[Kind, Callable[[ir.Value], values.Parsed]] = {
            Kind.MONEY: values.decimal,
            Kind.DECIMAL: values.decimal,
            Kind.TIMESTAMP: values.timestamp,
            Kind.TAGS: partial(values.tags, json_object=plane.json_object),
        }
        result = parser[kind](cell)
        parsed_columns[f"_p_{name}"] = result.value
        parsed_columns[f"_bad_{name}"] = result.invalid
        parsed_columns[f"_t_{name}"] = values.text(cell).substr(0, 60)
        if result.why is not None:
            parsed_columns[f"_why_{name}"] = result.why
        checked.append((name, kind))
    parsed_columns["_ext"] = _extension_map(staged, extensions)
    rows = plane.materialise(staged.select(**parsed_columns))

    def value(name: str) -> ir.Value:
        if name in by_focus:
            return rows[f"_p_{name}"]
        return ibis.null(_null_type(FOCUS_COLUMNS[name]))

    def month(name: str) -> ir.StringValue:
        """The billing month as the provider wrote it: 2026-11-01T00:00:00+01:00 is November,
        although it is still October in UTC."""
        if name not in by_focus:
            return ibis.null("string")
        written, parsed = rows[f"_t_{name}"], rows[f"_p_{name}"]
        local = ibis.ifelse(
            written.re_search(r"^\d{4}-\d{2}"), written.substr(0, 7), parsed.strftime("%Y-%m")
        )
        return ibis.ifelse(parsed.isnull(), ibis.null("string"), local)

    # Stage 2: the first reason a row fails, its period, and the split into lines / quarantine.
    currency = value(col.BILLING_CURRENCY).upper() if col.BILLING_CURRENCY in by_focus else None
    currency = currency if currency is not None else ibis.literal(default_currency)
    period = month(col.BILLING_PERIOD_START).fill_null(month(col.CHARGE_PERIOD_START))
    # a currency written but unknown first: an amount in it is unreadable because of it (an
    # Anthropic amount in lowest units of a currency not known); a missing one comes last
    unknown = "BillingCurrency: '" + currency.fill_null("") + "' is not an ISO 4217 currency code"
    cases: list[tuple[ir.BooleanValue, ir.StringValue]] = [
        (currency.notnull() & ~currency.isin(sorted(ISO_4217)), unknown)
    ]
    cases += [(rows[f"_bad_{name}"], _reason(rows, name, kind)) for name, kind in checked]
    cases.append((currency.isnull(), unknown))
    cases.append((period.isnull(), ibis.literal("no BillingPeriodStart or ChargePeriodStart")))
    rows = rows.mutate(
        _reason=ibis.cases(*cases, else_=ibis.null("string")).substr(0, _REASON_LIMIT),
        _period=period,
        _currency=currency,
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
        **{
            name: good._currency
            if name == col.BILLING_CURRENCY
            else (good[f"_p_{name}"] if name in by_focus else value(name))
            for name in FOCUS_COLUMNS
        },
        **{t.EXTENSIONS: good._ext},
    )
    lines = lines.mutate(**{t.CATEGORY: categorise(lines)})
    bad = rows.filter(rows._reason.notnull())
    quarantine = quarantine_rows(
        bad,
        kind="cost",
        source=source,
        file_hash=file_hash,
        file_name=file_name,
        period=bad._period,
        currency=bad._currency,
        cost_text=bad["_t_BilledCost"] if col.BILLED_COST in by_focus else None,
    )
    return Normalised(lines, quarantine)


def _reason(rows: ir.Table, name: str, kind: Kind) -> ir.StringValue:
    """Why a cell is invalid: the cell as written, and what it is not (or the parser's why)."""
    written = f"{name}: '" + rows[f"_t_{name}"] + "' "
    generic = written + f"is not a valid {kind}"
    if f"_why_{name}" not in rows.columns:
        return generic
    why = rows[f"_why_{name}"]
    return ibis.ifelse(why.isnull(), generic, written + why)


def tag_keys(plane: DataPlane, lines: ir.Table) -> list[str]:
    """Every tag key some line has, recorded with the load: an allocation need not look up a
    dimension no bill has as a tag."""
    keys = lines.select(key=lines.Tags.keys().unnest()).distinct()
    found: list[str] = plane.to_arrow(keys)["key"].to_pylist()
    return sorted(k for k in found if k is not None)


def _extension_map(staged: ir.Table, extensions: dict[str, str]) -> ir.Value:
    if not extensions:
        return ibis.null("map<string, string>")
    keys = list(extensions)
    return ibis.map(
        ibis.array(keys), ibis.array([values.text(staged[extensions[k]]) for k in keys])
    )


def _null_type(kind: Kind) -> str:
    return {
        Kind.STRING: "string",
        Kind.MONEY: f"decimal(38, {t.MONEY_SCALE})",
        Kind.DECIMAL: f"decimal(38, {t.MONEY_SCALE})",
        Kind.TIMESTAMP: "timestamp",
        Kind.TAGS: "map<string, string>",
    }[kind]
