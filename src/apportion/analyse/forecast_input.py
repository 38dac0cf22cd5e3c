"""Forecast and budget rows as people submit them: a CSV file (period, cost_centre, use_case,
amount, currency, and optionally owner and kind) or JSON rows over the REST API. A forecast
file is small and written by hand, so one bad row refuses the whole file with its line and
reason, and nothing is written: the author fixes it and submits it again."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from apportion.errors import UsageError
from apportion.money import to_minor
from apportion.periods import Period, PeriodError
from apportion.schema.currency import ISO_4217, minor_units

FORECAST, BUDGET, BASELINE = "forecast", "budget", "baseline"
KINDS = (FORECAST, BUDGET, BASELINE)
SUBMITTED_KINDS = (FORECAST, BUDGET)  # a baseline is apportion's own, never submitted
REQUIRED = ("period", "cost_centre", "use_case", "amount", "currency")
OPTIONAL = ("owner", "kind")
KNOWN = (*REQUIRED, *OPTIONAL)
MAX_NAME = 200
MAX_DIGITS = 18  # a forecast of a quintillion is a typo, not a plan
# the billing years ingestion takes as real (apportion.ingest.values): a period outside them
# can never have actuals, and 9999-12 would end in a year no datetime holds
EARLIEST_YEAR, LATEST_YEAR = 1970, 2200

Key = tuple[str, str, str]  # payer (cost centre), workload (use case), currency


class ForecastError(UsageError):
    """A forecast, budget or question about them that cannot be taken (bad input: exit 2,
    HTTP 422)."""


class ForecastScopeError(ForecastError):
    """A consumer submitted for a cost centre it was not granted (HTTP 403)."""


@dataclass(frozen=True)
class ForecastRow:
    kind: str
    period: str
    payer: str
    workload: str
    currency: str
    amount: Decimal
    owner: str
    where: str = field(default="", compare=False)  # "file.csv: line 3", for messages

    @property
    def identity(self) -> tuple[str, str, str, str, str]:
        """What a resubmission replaces: the table's unique key."""
        return (self.kind, self.period, self.payer, self.workload, self.currency)


def read_file(
    path: Path, payer: str = "cost_centre", workload: str = "use_case"
) -> list[ForecastRow]:
    """Every row of a forecast CSV, checked. The cost centre and use case columns may also be
    named as the ledger's payer and workload dimensions (``payer``, ``workload``), in any
    case, unless that name is another column's (a dimension named ``owner`` does not take
    the owner column)."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's BOM is no column name
    except OSError as exc:
        raise ForecastError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ForecastError(f"{path}: is not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise ForecastError(f"{path}: is empty; the columns are {', '.join(REQUIRED)}")
        columns = _columns(header, f"{path}: line 1", _aliases(payer, workload))
        rows = []
        for values in reader:
            where = f"{path}: line {reader.line_num}"
            if not any(value.strip() for value in values):
                continue  # a blank line, often the last one
            if len(values) != len(columns):
                raise ForecastError(
                    f"{where}: {len(values)} fields where the header has {len(columns)}"
                )
            rows.append((where, dict(zip(columns, values, strict=True))))
    except csv.Error as exc:
        raise ForecastError(f"{path}: line {reader.line_num}: not CSV ({exc})") from None
    if not rows:
        raise ForecastError(f"{path}: has a header but no rows")
    return parse_rows(rows)


def _aliases(payer: str, workload: str) -> dict[str, str]:
    """Header names (stripped, lower case, as the header's are read) that stand for the cost
    centre and use case columns; a dimension named as another column is no alias of it."""
    found: dict[str, str] = {}
    for name, column in ((payer, "cost_centre"), (workload, "use_case")):
        alias = name.strip().lower()
        if alias not in KNOWN or alias == column:
            found[alias] = column
    return found


def _columns(header: list[str], where: str, aliases: dict[str, str]) -> list[str]:
    columns = [aliases.get(name.strip().lower(), name.strip().lower()) for name in header]
    for name in columns:
        if name not in KNOWN:
            raise ForecastError(
                f"{where}: unknown column {name!r}; the columns are {', '.join(REQUIRED)} "
                f"and optionally {', '.join(OPTIONAL)}"
            )
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
        raise ForecastError(f"{where}: the column {repeated[0]!r} appears twice")
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise ForecastError(f"{where}: no {', '.join(missing)} column")
    return columns


def parse_rows(rows: Iterable[tuple[str, Mapping[str, str | None]]]) -> list[ForecastRow]:
    """Rows as (where, values by column name), checked; the first problem refuses them all,
    a row that repeats another's kind, period, cost centre, use case and currency included."""
    found: list[ForecastRow] = []
    first: dict[tuple[str, str, str, str, str], str] = {}
    for where, values in rows:
        row = parse_row(values, where)
        if row.identity in first:
            raise ForecastError(
                f"{where}: repeats {first[row.identity]} (the same kind, period, cost centre, "
                "use case and currency); keep one of them"
            )
        first[row.identity] = where
        found.append(row)
    return found


def parse_row(values: Mapping[str, str | None], where: str) -> ForecastRow:
    payer = _name(values.get("cost_centre"), "cost_centre", where)
    currency = (values.get("currency") or "").strip().upper()
    if currency not in ISO_4217:
        raise ForecastError(f"{where}: currency {currency!r} is not an ISO 4217 code")
    owner = (values.get("owner") or "").strip()
    return ForecastRow(
        kind=_kind(values.get("kind"), where),
        period=_period(values.get("period"), where),
        payer=payer,
        workload=_name(values.get("use_case"), "use_case", where),
        currency=currency,
        amount=_amount(values.get("amount"), currency, where),
        # unnamed, the cost centre answers for its own forecast
        owner=_name(owner, "owner", where) if owner else payer,
        where=where,
    )


def _kind(text: str | None, where: str) -> str:
    kind = (text or "").strip().lower() or FORECAST
    if kind == BASELINE:
        raise ForecastError(
            f"{where}: kind 'baseline' is apportion's own (apportion forecast baseline --save); "
            "submit a forecast or a budget"
        )
    if kind not in SUBMITTED_KINDS:
        raise ForecastError(f"{where}: kind {kind!r} is neither forecast nor budget")
    return kind


def _period(text: str | None, where: str) -> str:
    try:
        period = Period.parse(text or "")
    except PeriodError as exc:
        raise ForecastError(f"{where}: {exc}") from None
    if not EARLIEST_YEAR <= period.year <= LATEST_YEAR:
        raise ForecastError(
            f"{where}: period {period} is outside the years {EARLIEST_YEAR} to {LATEST_YEAR} "
            "that a bill can be dated in"
        )
    return str(period)


def _name(text: str | None, column: str, where: str) -> str:
    name = (text or "").strip()
    if not name:
        raise ForecastError(f"{where}: {column} is empty")
    if len(name) > MAX_NAME:
        raise ForecastError(f"{where}: {column} is longer than {MAX_NAME} characters")
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        raise ForecastError(f"{where}: {column} contains a control character")
    if name == "*":
        # the monthly review's name for a use case's total: a forecast names one cost centre
        # and one use case, or it would be compared with the actual of neither
        raise ForecastError(f"{where}: {column} '*' is no name: forecast each one")
    return name


def _amount(text: str | None, currency: str, where: str) -> Decimal:
    shown = (text or "").strip()
    try:
        amount = Decimal(shown)
    except InvalidOperation:
        raise ForecastError(f"{where}: amount {shown!r} is not a number") from None
    if not amount.is_finite():
        raise ForecastError(f"{where}: amount {shown!r} is not a number")
    if amount < 0:
        raise ForecastError(f"{where}: amount {shown} is negative; a forecast is a cost, 0 or more")
    if amount and amount.adjusted() >= MAX_DIGITS:
        raise ForecastError(f"{where}: amount {shown} is too large")
    # one spelling per amount: 1200, 1.2E+3 and 1200.000 are all stored as 1200.00
    stored = to_minor(amount, currency)
    if stored != amount:
        raise ForecastError(
            f"{where}: amount {shown} has more decimal places than {currency}'s "
            f"{minor_units(currency)}"
        )
    return stored
