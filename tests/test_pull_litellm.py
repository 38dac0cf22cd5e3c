"""`apportion pull litellm` against a real database holding LiteLLM's spend logs table: the
PostgreSQL server at APPORTION_TEST_POSTGRES_URL (a schema of its own per test, dropped
afterwards) and, through the same code, a SQLite file. Months split into files, the rows
ingested as drivers, the prompt and response content never read, the password never shown."""

from __future__ import annotations

import csv
import os
import socket
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from apportion.cli import app
from apportion.pull import PullSetupError, pull_litellm
from apportion.pull import litellm as module
from apportion.pull.litellm import COLUMNS, URL_VARIABLE, database_url
from apportion.schema import tables as t
from apportion.workspace import Workspace
from tests.helpers import make_workspace

POSTGRES_URL = os.environ.get("APPORTION_TEST_POSTGRES_URL")
POLICY = "tags: {allowed: {use_case: [support-bot, doc-search, fraud]}}\n"
SECRET = "the-prompt-text-must-never-leave"  # in every content column of every row
PASSWORD = f"pw-{uuid.uuid4().hex}"  # the test server trusts local connections: any password
# LiteLLM's columns (schema.prisma) with their PostgreSQL types from its migrations
TIMESTAMP = sa.DateTime().with_variant(postgresql.TIMESTAMP(precision=3), "postgresql")
JSONB = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
FLOAT = sa.Float().with_variant(postgresql.DOUBLE_PRECISION(), "postgresql")
SCHEMA: dict[str, sa.types.TypeEngine[Any]] = {
    **{name: sa.Text() for name in COLUMNS},
    **{name: sa.Integer() for name in ("total_tokens", "prompt_tokens", "completion_tokens")},
    **{name: TIMESTAMP for name in ("startTime", "endTime", "completionStartTime")},
    **{name: JSONB for name in ("metadata", "request_tags")},
    "spend": FLOAT,
    "request_duration_ms": sa.Integer(),
    "organization_id": sa.Text(),
    **{name: JSONB for name in ("messages", "response", "proxy_server_request")},
}


def _request(number: int, start: str, spend: float, tokens: int, **cells: Any) -> dict[str, Any]:
    moment = datetime.fromisoformat(start)
    return {
        "request_id": f"chatcmpl-{number}",
        "call_type": "acompletion",
        "api_key": "88dc28d0f030",
        "spend": spend,
        "total_tokens": tokens,
        "prompt_tokens": tokens - 100,
        "completion_tokens": 100,
        "startTime": moment,
        "endTime": moment,
        "model": "gpt-4.1-mini",
        "model_group": "openai-shared",
        "custom_llm_provider": "openai",
        "metadata": {},
        "cache_hit": "False",
        "request_tags": [],
        "messages": [{"role": "user", "content": SECRET}],
        "response": {"choices": [{"message": {"content": SECRET}}]},
        "proxy_server_request": {"body": {"messages": [{"content": SECRET}]}},
        **cells,
    }


ROWS = [
    _request(1, "2026-08-31T23:59:59.999", 9.0, 9999),  # before --since's month: never read
    _request(2, "2026-09-30T23:59:59.999", 0.001, 1000, request_tags=["use_case:fraud"]),
    _request(
        3, "2026-10-01T00:00:00", 0.0012, 1500, metadata={"UseCase": "Support Bot", "n": 1.10}
    ),
    _request(4, "2026-10-15T12:00:00.5", 0.00030849999999999996, 700),  # a float's noise
    _request(5, "2026-10-31T23:59:59.999", 0.0008, 1000, request_tags=["use_case:doc-search"]),
    _request(6, "2026-11-01T00:00:00", 0.002, 2000),
]


@dataclass
class Database:
    engine: sa.Engine  # to create the table with; the pull opens its own connections
    url: str  # as the pull is given it, password included where the server has one
    table: str | None  # as --table names it (None: the default)
    schema: str | None

    def create(self, rows: Sequence[dict[str, Any]], columns: Sequence[str] = ()) -> None:
        names = columns or list(SCHEMA)
        spend_logs = sa.Table(
            "LiteLLM_SpendLogs",
            sa.MetaData(),
            *(sa.Column(name, SCHEMA[name]) for name in names),
            schema=self.schema,
        )
        spend_logs.create(self.engine)
        if rows:
            with self.engine.begin() as connection:
                connection.execute(spend_logs.insert(), [_only(row, names) for row in rows])


def _only(row: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    return {name: row.get(name) for name in names}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'litellm.sqlite'}"
        engine = sa.create_engine(url)
        yield Database(engine, url, None, None)
        engine.dispose()
        return
    if not POSTGRES_URL:
        pytest.skip("APPORTION_TEST_POSTGRES_URL is not set")
    schema = f"litellm_{uuid.uuid4().hex[:10]}"
    base = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    engine = sa.create_engine(base)
    with engine.begin() as connection:
        connection.execute(sa.schema.CreateSchema(schema))
    # LiteLLM's own form of URL, a password, and a session far from UTC: the months must
    # still be cut at UTC midnight
    given = base.set(drivername="postgresql", password=base.password or PASSWORD)
    given = given.update_query_dict({"options": "-c TimeZone=Pacific/Kiritimati"})
    try:
        yield Database(
            engine,
            given.render_as_string(hide_password=False),
            f"{schema}.LiteLLM_SpendLogs",
            schema,
        )
    finally:
        with engine.begin() as connection:
            connection.execute(sa.schema.DropSchema(schema, cascade=True))
        engine.dispose()


def _drivers(ws: Workspace) -> dict[str, D]:
    drivers = ws.data.table(t.DRIVERS)
    totals = drivers.group_by("driver").aggregate(total=drivers.quantity.sum())
    return {row["driver"]: row["total"] for row in ws.data.to_arrow(totals).to_pylist()}


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_months_become_files_and_drivers_and_a_repull_is_unchanged(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database.create(ROWS)
    monkeypatch.setattr(module, "PAGE_ROWS", 2)  # pages smaller than a month
    ws = make_workspace(tmp_path / "ws", extra=POLICY)
    said: list[str] = []
    results = pull_litellm(
        ws,
        date(2026, 9, 20),
        date(2026, 11, 3),
        url=database.url,
        table=database.table,
        environ={},
        say=said.append,
    )
    assert [(r.file, r.source, r.kind, r.rows, r.periods) for r in results] == [
        ("litellm-spend-logs-2026-09.csv", "litellm-spend-logs", "drivers", 2, ["2026-09"]),
        ("litellm-spend-logs-2026-10.csv", "litellm-spend-logs", "drivers", 6, ["2026-10"]),
        ("litellm-spend-logs-2026-11.csv", "litellm-spend-logs", "drivers", 2, ["2026-11"]),
    ]
    # whole months, cut at UTC midnight, the last millisecond of a month in it
    folder = ws.root / "pulled"
    assert sorted(p.name for p in folder.iterdir()) == [r.file for r in results]
    october = _read(folder / "litellm-spend-logs-2026-10.csv")
    assert [row["request_id"] for row in october] == ["chatcmpl-3", "chatcmpl-4", "chatcmpl-5"]
    assert list(october[0]) == list(COLUMNS)  # the table's names, the content columns left out
    assert [row["startTime"] for row in october] == [
        "2026-10-01T00:00:00Z",
        "2026-10-15T12:00:00.500000Z",
        "2026-10-31T23:59:59.999000Z",
    ]
    assert october[1]["spend"] == "0.00030849999999999996"  # the stored float, as LiteLLM's
    # the JSON text the database keeps (jsonb orders keys by length)
    assert october[0]["metadata"] in (
        '{"n": 1.1, "UseCase": "Support Bot"}',
        '{"UseCase": "Support Bot", "n": 1.1}',
    )
    assert october[2]["request_tags"] == '["use_case:doc-search"]'
    for path in folder.iterdir():
        text = path.read_text(encoding="utf-8")
        assert SECRET not in text and PASSWORD not in text
    assert (
        "LiteLLM_SpendLogs 2026-10: 2 rows" in said and "LiteLLM_SpendLogs 2026-10: 3 rows" in said
    )
    # every request: its tokens and the gateway's spend, rounded to 12 places, exactly
    assert _drivers(ws) == {
        "llm_tokens": D(1000 + 1500 + 700 + 1000 + 2000),
        "llm_spend": D("0.001") + D("0.0012") + D("0.000308500000") + D("0.0008") + D("0.002"),
    }
    use_cases = ws.data.to_arrow(
        ws.data.table(t.DRIVERS).filter(lambda d: d.driver == "llm_tokens")
    ).to_pylist()
    assert sorted(
        (int(row["quantity"]), dict(row["dimensions"]).get("use_case") or "") for row in use_cases
    ) == [(700, ""), (1000, "doc-search"), (1000, "fraud"), (1500, "support-bot"), (2000, "")]
    again = pull_litellm(
        ws, date(2026, 9, 1), date(2026, 11, 30), url=database.url, table=database.table
    )
    assert {r.status for r in again} == {"unchanged"}


def test_an_older_table_without_some_columns_and_a_quiet_month(
    database: Database, tmp_path: Path
) -> None:
    old = ["request_id", "call_type", "spend", "total_tokens", "startTime", "model", "messages"]
    database.create(ROWS[2:4], old)
    ws = make_workspace(tmp_path / "ws")
    results = pull_litellm(
        ws, date(2026, 7, 1), date(2026, 10, 31), url=database.url, table=database.table
    )
    assert [(r.file, r.rows) for r in results] == [
        ("litellm-spend-logs-2026-07.csv", 0),
        # August and September are as empty as July: the same content, loaded once
        ("litellm-spend-logs-2026-10.csv", 4),
    ]
    header = (ws.root / "pulled" / "litellm-spend-logs-2026-10.csv").read_text().splitlines()[0]
    assert header == "request_id,call_type,spend,total_tokens,startTime,model"
    assert _drivers(ws) == {"llm_tokens": D(2200), "llm_spend": D("0.001508500000")}


def test_the_pull_command_hides_the_password(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database.create(ROWS)
    make_workspace(tmp_path / "ws").close()
    monkeypatch.setenv(URL_VARIABLE, database.url)  # out of shell history
    command = ["--workspace", str(tmp_path / "ws"), "pull", "litellm", "--since", "2026-10-01"]
    command += ["--until", "2026-10-31", *(["--table", database.table] if database.table else [])]
    done = CliRunner().invoke(app, command)
    assert done.exit_code == 0, done.output
    assert (
        "litellm-spend-logs-2026-10.csv: loaded as drivers (source litellm-spend-logs), 6 rows"
        in (done.output)
    )
    assert PASSWORD not in done.output


def test_a_missing_table_is_a_clear_error(database: Database, tmp_path: Path) -> None:
    make_workspace(tmp_path / "ws").close()
    base = ["--workspace", str(tmp_path / "ws"), "pull", "litellm", "--since", "2026-10-01"]
    name = f"{database.schema}.nope" if database.schema else "nope"
    done = CliRunner().invoke(app, [*base, "--url", database.url, "--table", name])
    assert done.exit_code == 2
    assert f"error: no table '{name}' in the database at" in done.output
    assert "LiteLLM keeps its spend logs in 'LiteLLM_SpendLogs'" in done.output
    assert PASSWORD not in done.output
    assert not (tmp_path / "ws" / "pulled").exists()


def test_a_table_that_is_not_spend_logs_is_refused(database: Database, tmp_path: Path) -> None:
    database.create([], ["request_id", "spend"])
    ws = make_workspace(tmp_path / "ws")
    with pytest.raises(PullSetupError, match="has no total_tokens, startTime column"):
        pull_litellm(ws, date(2026, 10, 1), url=database.url, table=database.table)


def test_a_server_that_cannot_be_reached_is_one_line_without_the_password(
    tmp_path: Path,
) -> None:
    pytest.importorskip("psycopg")  # the postgres extra; no server is needed
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    make_workspace(tmp_path / "ws").close()
    url = f"postgresql://litellm:{PASSWORD}@127.0.0.1:{port}/litellm"
    command = ["--workspace", str(tmp_path / "ws"), "pull", "litellm", "--since", "2026-10-01"]
    done = CliRunner().invoke(app, command, env={URL_VARIABLE: url})
    assert done.exit_code == 2
    message = done.output.strip()
    assert message.startswith(
        f"error: could not connect to postgresql+psycopg://litellm:***@127.0.0.1:{port}/litellm: "
    )
    assert "\n" not in message and PASSWORD not in message


def test_urls_and_options_are_checked_before_connecting(tmp_path: Path) -> None:
    assert database_url("postgres://u:p@h/db", {}).drivername == "postgresql+psycopg"
    assert database_url(None, {URL_VARIABLE: " sqlite:///x.db "}).drivername == "sqlite"
    with pytest.raises(PullSetupError, match=f"--url or {URL_VARIABLE}"):
        database_url(None, {})
    with pytest.raises(PullSetupError, match="is not a URL") as refused:
        database_url(f"not a url {PASSWORD}", {})
    assert PASSWORD not in str(refused.value)
    ws = make_workspace(tmp_path / "ws")
    with pytest.raises(PullSetupError, match="--until 2026-09-01 is before --since 2026-10-01"):
        pull_litellm(ws, date(2026, 10, 1), date(2026, 9, 1), url="sqlite://")
    ws.close()
    command = ["--workspace", str(tmp_path / "ws"), "pull", "openai", "--since", "2026-10-01"]
    wrong = CliRunner().invoke(app, [*command, "--url", "sqlite://"])
    assert wrong.exit_code == 2
    assert "only `pull litellm` reads a database" in wrong.output
