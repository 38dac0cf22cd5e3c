"""``apportion pull litellm``: a LiteLLM proxy's spend logs read straight from its own database
(the ``"LiteLLM_SpendLogs"`` table, PostgreSQL), a CSV file per month, then ingested as the
``litellm`` format.

Each month's rows (``startTime`` in the month, UTC) are written to
``pulled/litellm-spend-logs-YYYY-MM.csv`` in the shape of a CSV export of the table: the
table's own column names as the header, JSON columns as the JSON text the database keeps,
timestamps in ISO 8601 UTC, ``spend`` as the shortest decimal that is the stored float.
Rows are read in pages through a server-side cursor, ordered by ``startTime`` and
``request_id``, so memory stays bounded and the same rows give the same file (a re-pull is
``unchanged``).

Privacy: only the columns in ``COLUMNS`` are selected. The prompt and response content
LiteLLM may keep (``messages``, ``response``, ``proxy_server_request``) is never read, so it
never reaches a file, the workspace or a log. The session is read-only: nothing is written to
LiteLLM's database. The URL comes from ``--url`` or ``APPORTION_LITELLM_DATABASE_URL`` (so a
password stays out of shell history); messages show it with the password masked.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchTableError, ProgrammingError
from sqlalchemy.pool import NullPool

from apportion.ingest.load import IngestResult
from apportion.progress import Progress, quiet
from apportion.pull.client import PullError, PullSetupError
from apportion.pull.months import Month, ingest_pulled, months_to_read, pulled_folder, write_whole
from apportion.workspace import Workspace

TABLE = "LiteLLM_SpendLogs"
URL_VARIABLE = "APPORTION_LITELLM_DATABASE_URL"
SOURCE = "litellm-spend-logs"
PAGE_ROWS = 5000  # rows held in memory at a time
CONNECT_TIMEOUT = 10  # seconds; libpq would otherwise wait on an unreachable host for minutes

# What is copied, in the table's order (LiteLLM's schema.prisma): what the litellm reader
# reads and what is harmless beside it. Never messages, response or proxy_server_request.
COLUMNS = (
    "request_id",
    "call_type",
    "api_key",  # LiteLLM's hash of the virtual key, not the key
    "spend",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "startTime",
    "endTime",
    "completionStartTime",
    "model",
    "model_id",
    "model_group",
    "custom_llm_provider",
    "api_base",
    "user",
    "metadata",
    "cache_hit",
    "cache_key",
    "request_tags",
    "team_id",
    "end_user",
    "requester_ip_address",
    "session_id",
    "status",
)
# without these the rows are not spend logs (the litellm reader's signature); the others may
# be missing from an older LiteLLM's table and are then left out of the file
REQUIRED = ("request_id", "spend", "total_tokens", "startTime")


def pull_litellm(
    workspace: Workspace,
    since: date,
    until: date | None = None,
    *,
    url: str | None = None,
    table: str | None = None,
    environ: Mapping[str, str] | None = None,
    say: Progress = quiet,
) -> list[IngestResult]:
    """Read whole months of LiteLLM's spend logs from its database and ingest them."""
    months = months_to_read(since, until)
    address = database_url(url, os.environ if environ is None else environ)
    try:
        with _connected(address) as connection:
            spend_logs = _reflect(connection, table or TABLE, address)
            paths = [_pull_month(workspace, connection, spend_logs, m, say) for m in months]
    except PullError as exc:
        # a driver's message could repeat the password; no message of the pull ever does
        raise type(exc)(_without_password(str(exc), address)) from None
    return ingest_pulled(workspace, {(SOURCE, "litellm"): paths}, say)


def database_url(given: str | None, environ: Mapping[str, str]) -> URL:
    """The database's URL; LiteLLM's own ``postgresql://`` (or ``postgres://``) form is read
    with psycopg, the driver the ``postgres`` extra installs."""
    text = (given or environ.get(URL_VARIABLE, "")).strip()
    if not text:
        raise PullSetupError(
            f"give LiteLLM's database URL with --url or {URL_VARIABLE} "
            "(e.g. postgresql://litellm@db:5432/litellm)"
        )
    try:
        parsed = make_url(text)
    except ArgumentError:
        # SQLAlchemy's message repeats the text, password included
        raise PullSetupError(
            "the LiteLLM database URL is not a URL (expected e.g. "
            "postgresql://user:password@host:5432/litellm)"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def masked(url: URL) -> str:
    return url.render_as_string(hide_password=True)


@contextmanager
def _connected(url: URL) -> Iterator[Connection]:
    """A read-only connection; a refused or failed connection is one line, password masked."""
    engine = _engine(url)
    try:
        try:
            connection = engine.connect()
        except DBAPIError as exc:
            raise PullSetupError(f"could not connect to {masked(url)}: {_reason(exc)}") from None
        with connection:
            # PostgreSQL refuses any write in this session; other databases ignore the option
            yield connection.execution_options(postgresql_readonly=True)
    finally:
        engine.dispose()


def _engine(url: URL) -> sa.Engine:
    # a pull connects once; a pool would only keep the connection open after it
    options: dict[str, Any] = {"poolclass": NullPool}
    if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
        options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
    try:
        return sa.create_engine(url, **options)
    except ModuleNotFoundError as exc:
        raise PullSetupError(
            f"the driver for {url.drivername} is not installed ({exc.name}); "
            "install apportion[postgres] for PostgreSQL"
        ) from None
    except ArgumentError as exc:
        raise PullSetupError(f"cannot read {masked(url)}: {exc}") from None


def _reflect(connection: Connection, name: str, url: URL) -> sa.Table:
    """The table as the database describes it: its name is quoted by SQLAlchemy, never
    formatted into SQL, and its columns say what this LiteLLM version has."""
    schema, _, table_name = name.rpartition(".")
    if not table_name:
        raise PullSetupError(f"--table {name!r} names no table")
    try:
        table = sa.Table(table_name, sa.MetaData(), schema=schema or None, autoload_with=connection)
    except NoSuchTableError:
        raise PullSetupError(
            f"no table {name!r} in the database at {masked(url)}; LiteLLM keeps its spend logs "
            f"in {TABLE!r} (give another, or schema.table, with --table)"
        ) from None
    except DBAPIError as exc:
        raise PullSetupError(f"cannot read {name!r} at {masked(url)}: {_reason(exc)}") from None
    missing = [column for column in REQUIRED if column not in table.c]
    if missing:
        raise PullSetupError(
            f"table {name!r} has no {', '.join(missing)} column: not LiteLLM's spend logs"
        )
    return table


def _pull_month(
    workspace: Workspace, connection: Connection, table: sa.Table, month: Month, say: Progress
) -> Path:
    names = [column for column in COLUMNS if column in table.c]
    path = pulled_folder(workspace) / f"{SOURCE}-{month.period}.csv"

    def write(handle: TextIO) -> None:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(names)
        count = 0
        for page in _pages(connection, table, names, month):
            out.writerows([_cell(value) for value in row] for row in page)
            count += len(page)
            say(f"{table.name} {month.period}: {count} rows")
        if not count:
            say(f"{table.name} {month.period}: no rows")

    return write_whole(path, write)


def _pages(
    connection: Connection, table: sa.Table, names: Sequence[str], month: Month
) -> Iterator[Sequence[sa.Row[Any]]]:
    start = table.c["startTime"]
    statement = (
        sa.select(*(_selected(table.c[name]) for name in names))
        .where(start >= sa.bindparam("start"), start < sa.bindparam("end"))
        # the same rows in the same order make the same file, so a re-pull is unchanged
        .order_by(start, table.c["request_id"])
    )
    bounds = {"start": _bound(start, month.start), "end": _bound(start, month.stop)}
    try:
        # yield_per streams through a server-side cursor: PAGE_ROWS rows in memory at a time
        result = connection.execute(statement.execution_options(yield_per=PAGE_ROWS), bounds)
        yield from result.partitions(PAGE_ROWS)
    except ProgrammingError as exc:  # no SELECT privilege, a column of another type
        raise PullSetupError(f"cannot read {table.name!r}: {_reason(exc)}") from None
    except DBAPIError as exc:
        raise PullError(f"reading {table.name!r} failed: {_reason(exc)}") from None
    finally:
        connection.rollback()  # end the read-only transaction; nothing was written


def _selected(column: sa.Column[Any]) -> sa.ColumnElement[Any]:
    """JSON columns as the text the database keeps (exact digits, no float round trip)."""
    if isinstance(column.type, sa.JSON):
        return sa.cast(column, sa.Text).label(column.name)
    return column


def _bound(column: sa.Column[Any], moment: datetime) -> datetime:
    """Prisma keeps DateTime as UTC in a column without a time zone: such a column is compared
    with a naive UTC moment, so the session's time zone cannot shift the month."""
    if isinstance(column.type, sa.DateTime) and column.type.timezone:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _cell(value: object) -> str:
    """A value as LiteLLM's CSV export writes it; NULL is an empty cell."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return moment.isoformat().replace("+00:00", "Z")
    if isinstance(value, float):
        # the shortest decimal that is the float, never an exponent a reader may refuse
        return format(Decimal(repr(value)), "f")
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict | list):  # a JSON or array column a driver decoded
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _reason(exc: DBAPIError) -> str:
    """The driver's own message on one line, without the statement SQLAlchemy appends."""
    return (" ".join(str(exc.orig).split()) or type(exc.orig).__name__)[:300]


def _without_password(message: str, url: URL) -> str:
    password = str(url.password or "")
    return message.replace(password, "***") if password else message
