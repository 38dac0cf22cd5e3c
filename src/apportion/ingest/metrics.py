"""Business metrics files: what each use case delivered in a period, to set beside its cost.

Columns (any case): ``period`` (YYYY-MM) or ``date``, the ledger's workload dimension
(``use_case`` by default), and any of ``decisions`` (the use case's own unit, named in an
optional ``unit`` column), ``users``, ``revenue``, ``cost_saved``, ``quality_score`` and
``feature_price`` (per user per month), with ``currency`` for the money (default: the
workspace's). A row with none of them, a negative count or price, or a period that is not one
is quarantined with its line and reason, like a bad bill line.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from apportion.engine.dataplane import DataPlane, FileError
from apportion.ingest import values
from apportion.ingest.quarantine import quarantine_rows
from apportion.ingest.readers import Table
from apportion.ingest.registry import reader
from apportion.ingest.roles import by_role
from apportion.schema import tables as t
from apportion.schema.currency import ISO_4217

COUNTS = ("decisions", "users")  # never negative
MONEY = ("revenue", "cost_saved", "feature_price")  # revenue and savings may be negative
SCORES = ("quality_score",)
METRICS = (*COUNTS, *MONEY, *SCORES)
_OTHERS = {"period": "period", "date": "date", "unit": "unit", "currency": "currency"}
_PERIOD = r"^\d{4}-(0[1-9]|1[0-2])$"


@dataclass(frozen=True)
class Normalised:
    rows: ir.Table
    quarantine: ir.Table
    ignored_columns: tuple[str, ...]


def _role(header: str, workload: str) -> str | None:
    key = header.strip().lower()
    if key == workload:
        return "workload"
    if key in METRICS:
        return key
    return _OTHERS.get(key)


def recognise(headers: list[str], workload: str) -> bool:
    roles = {_role(h, workload) for h in headers}
    return (
        "workload" in roles
        and bool(roles & {"period", "date"})
        and bool(roles & set(METRICS))
        and not roles & {"driver", "quantity"}
    )


# its stager (apportion.ingest.readers): the file staged as it is, told by its columns
READER = Table(
    reader("metrics"), lambda columns, config: recognise(columns, config.ledger.workload)
)


def normalise(
    staged: ir.Table,
    headers: dict[str, str],
    *,
    workload: str,
    default_currency: str,
    source: str,
    file_hash: str,
    file_name: str,
    plane: DataPlane,
) -> Normalised:
    columns, ignored = by_role(headers, lambda header: _role(header, workload), file_name)
    given = [m for m in METRICS if m in columns]
    if "workload" not in columns or not ({"period", "date"} & set(columns)) or not given:
        raise FileError(
            f"{file_name}: not a business metrics file: it needs period (YYYY-MM) or date, "
            f"{workload}, and at least one of {', '.join(METRICS)}"
        )
    if "period" in columns:
        period_text = values.text(staged[columns["period"]])
        period = ibis.ifelse(period_text.re_search(_PERIOD), period_text, ibis.null("string"))
        period_bad = period.isnull()
    else:
        stamp = values.timestamp(staged[columns["date"]])
        period = stamp.value.strftime("%Y-%m")
        period_bad = stamp.invalid | stamp.value.isnull()
    name = values.text(staged[columns["workload"]])
    parsed = {
        m: values.decimal(
            staged[columns[m]], scale=t.MONEY_SCALE if m in MONEY else t.QUANTITY_SCALE
        )
        for m in given
    }
    raw = {m: values.text(staged[columns[m]]) for m in given}
    currency = (
        values.text(staged[columns["currency"]]).upper()
        if "currency" in columns
        else ibis.literal(default_currency)
    )
    currency = currency.fill_null(default_currency)
    checks: list[tuple[ir.BooleanValue, ir.StringValue]] = [
        (
            period_bad,
            ibis.literal(
                f"{'period' if 'period' in columns else 'date'}: missing or not a YYYY-MM month"
            ),
        ),
        (name.isnull(), ibis.literal(f"{workload}: missing")),
    ]
    for metric in given:
        checks.append(
            (
                parsed[metric].invalid,
                f"{metric}: '" + raw[metric].substr(0, 60) + "' is not a number",
            )
        )
    for metric in [m for m in given if m in (*COUNTS, "feature_price")]:
        checks.append(
            (parsed[metric].value < 0, f"{metric}: " + raw[metric].substr(0, 60) + " is negative")
        )
    checks.append(
        (
            ibis.and_(*(parsed[m].value.isnull() for m in given)),
            ibis.literal(f"no metric given (one of {', '.join(given)})"),
        )
    )
    checks.append(
        (~currency.isin(sorted(ISO_4217)), "currency: '" + currency + "' is not an ISO 4217 code")
    )
    reason = ibis.cases(*checks, else_=ibis.null("string"))
    unit = values.text(staged[columns["unit"]]) if "unit" in columns else ibis.null("string")
    rows = plane.materialise(
        staged.select(
            staged[t.ROW_NUMBER],
            _period=period,
            _workload=name,
            _unit=unit,
            _currency=currency,
            _reason=reason,
            **{f"_{m}": parsed[m].value for m in given},
        )
    )
    good = rows.filter(rows._reason.isnull())
    bad = rows.filter(rows._reason.notnull())
    null_types = {m: t.MONEY_TYPE if m in MONEY else t.QUANTITY_TYPE for m in METRICS}
    return Normalised(
        rows=good.select(
            **{
                t.SOURCE: ibis.literal(source),
                t.FILE_HASH: ibis.literal(file_hash),
                t.ROW_NUMBER: good[t.ROW_NUMBER],
                t.BILLING_PERIOD: good._period,
                "workload": good._workload,
                "decisions": _metric(good, "decisions", given, null_types),
                "decision_unit": good._unit,
                "users": _metric(good, "users", given, null_types),
                "revenue": _metric(good, "revenue", given, null_types),
                "cost_saved": _metric(good, "cost_saved", given, null_types),
                "quality_score": _metric(good, "quality_score", given, null_types),
                "feature_price": _metric(good, "feature_price", given, null_types),
                "currency": good._currency,
            }
        ),
        quarantine=quarantine_rows(
            bad,
            kind="metrics",
            source=source,
            file_hash=file_hash,
            file_name=file_name,
            period=bad._period,
        ),
        ignored_columns=tuple(ignored),
    )


def _metric(rows: ir.Table, metric: str, given: list[str], types: dict[str, str]) -> ir.Value:
    return rows[f"_{metric}"] if metric in given else ibis.null(types[metric])
