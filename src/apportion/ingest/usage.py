"""Usage report rows (text, from apportion.ingest.reports) into the usage table.

Each row either becomes a usage row or is quarantined with its position in the file and the
first reason it failed: a window that is not a time, a token count that is not a whole
number, a reported cost that is not a number, no model, or a result the reader could not use
(``_reason``, e.g. image usage, which has no tokens to price).

Beside the counts a reader may give ``origin`` (who measured the usage: a provider report when
absent), ``reported_cost`` (what the source itself said it cost) and one ``dim:<dimension>``
column per dimension the usage names, which become its ``dimensions`` map.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from apportion.engine.dataplane import DataPlane
from apportion.engine.tables import USAGE, USAGE_QUANTITIES
from apportion.ingest import values
from apportion.ingest.quarantine import quarantine_rows
from apportion.schema import columns as col
from apportion.schema import tables as t

TEXT_COLUMNS = (
    col.PROVIDER_NAME,
    "provider",
    "account_id",
    "api_key_id",
    "user_id",
    "model",
    "service_tier",
)
FLAGS = ("batch", "long_context")
READER_REASON = "_reason"  # a reader's own reason to refuse a result
DIMENSION = "dim:"  # the prefix of a column that gives a dimension's value


@dataclass(frozen=True)
class Normalised:
    rows: ir.Table
    quarantine: ir.Table


def normalise(
    staged: ir.Table,
    *,
    source: str,
    file_hash: str,
    file_name: str,
    plane: DataPlane,
) -> Normalised:
    columns = set(staged.columns)

    def cell(name: str) -> ir.Value:
        return staged[name] if name in columns else ibis.null("string")

    parsed: dict[str, ir.Value] = {t.ROW_NUMBER: staged[t.ROW_NUMBER]}
    checks: list[tuple[str, str, values.Parsed]] = []
    for name in (col.WINDOW_START, "window_end"):
        result = values.timestamp(cell(name))
        checks.append((name, "time", result))
        parsed[name] = result.value
    for name in USAGE_QUANTITIES:
        result = values.count(cell(name))
        # a negative count would lower the priced cost: refused like a malformed one
        negative = result.value.fill_null(0) < 0
        checks.append(
            (name, "count of 0 or more", values.Parsed(result.value, result.invalid | negative))
        )
        parsed[name] = result.value.fill_null(0)
    reported = values.decimal(cell("reported_cost"))
    checks.append(("reported_cost", "number", reported))
    parsed["reported_cost"] = reported.value
    for name in FLAGS:
        flag = values.text(cell(name)).lower()
        result = values.Parsed(flag == "true", flag.notnull() & ~flag.isin(["true", "false"]))
        checks.append((name, "true or false", result))
        parsed[name] = result.value
    for index, (name, _, result) in enumerate(checks):
        parsed[f"_bad{index}"] = result.invalid
        parsed[f"_text{index}"] = values.text(cell(name)).substr(0, 60)
    for name in TEXT_COLUMNS:
        parsed[name] = values.text(cell(name))
    parsed[READER_REASON] = values.text(cell(READER_REASON))
    parsed["origin"] = values.text(cell("origin")).fill_null("provider")
    parsed["dimensions"] = _dimensions(staged)
    extensions = sorted(c for c in columns if c.startswith("x_") and c != t.ROW_NUMBER)
    parsed[t.EXTENSIONS] = (
        ibis.map(ibis.array(extensions), ibis.array([values.text(staged[c]) for c in extensions]))
        if extensions
        else ibis.null("map<string, string>")
    )
    rows = plane.materialise(staged.select(**parsed))

    cases: list[tuple[ir.BooleanValue, ir.StringValue]] = [
        (rows[READER_REASON].notnull(), rows[READER_REASON])
    ]
    cases += [
        (rows[f"_bad{i}"], f"{name}: '" + rows[f"_text{i}"] + f"' is not a {kind}")
        for i, (name, kind, _) in enumerate(checks)
    ]
    cases.append((rows.window_start.isnull(), ibis.literal("no time window")))
    cases.append((rows.model.isnull(), ibis.literal("no model")))
    period = rows.window_start.strftime("%Y-%m")
    rows = rows.mutate(_reason=ibis.cases(*cases, else_=ibis.null("string")), _period=period)
    good = rows.filter(rows._reason.isnull())
    bookkeeping = {
        t.SOURCE: ibis.literal(source),
        t.FILE_HASH: ibis.literal(file_hash),
        t.BILLING_PERIOD: good._period,
    }
    usage = good.select(
        **{name: bookkeeping[name] if name in bookkeeping else good[name] for name in USAGE.names}
    )
    bad = rows.filter(rows._reason.notnull())
    quarantine = quarantine_rows(
        bad,
        kind="usage",
        source=source,
        file_hash=file_hash,
        file_name=file_name,
        period=bad._period,
    )
    return Normalised(usage, quarantine)


def _dimensions(staged: ir.Table) -> ir.Value:
    """The ``dim:`` columns as one map, shaped as a driver row's: a dimension the usage does
    not name is a NULL value."""
    named = sorted(c for c in staged.columns if c.startswith(DIMENSION))
    if not named:
        return ibis.null("map<string, string>")
    return ibis.map(
        ibis.array([c.removeprefix(DIMENSION) for c in named]),
        ibis.array([values.text(staged[c]) for c in named]),
    )
