"""The control plane's schema: Alembic's migrations agree with the models, a database made
before migrations is stamped and upgraded in place, and the audit log is append-only in the
database itself."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import DBAPIError

from apportion.control import ControlPlane, audit, migrate
from apportion.control.models import Base
from tests.ledger.cases import execute

LEDGER_TABLES = {
    "runs",
    "periods",
    "closings",
    "statement_lines",
    "journal_lines",
    "adjustments",
    "disputes",
    "dispute_events",
    "audit_log",
}


def _differences(control: ControlPlane) -> list[Any]:
    with control.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, Base.metadata))


def test_migrations_agree_with_the_models(control_url: str) -> None:
    control = ControlPlane(control_url)
    with control.engine.connect() as connection:
        assert migrate.current(connection) == migrate.head() == "0008"
        assert set(inspect(connection).get_table_names()) >= LEDGER_TABLES
    assert _differences(control) == []
    control.dispose()


def test_opening_a_migrated_database_again_changes_nothing(control_url: str) -> None:
    ControlPlane(control_url).dispose()
    control = ControlPlane(control_url)
    with control.engine.connect() as connection:
        assert migrate.current(connection) == "0008"
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    assert [tuple(version) for version in versions] == [("0008",)]
    control.dispose()


def _old_runs_table(dialect: str) -> str:
    """The runs table exactly as migrations/versions/0001_runs.py makes it, as the control
    plane made it before there were migrations."""
    moment = "TIMESTAMP WITH TIME ZONE" if dialect == "postgresql" else "DATETIME"
    return (
        "CREATE TABLE runs ("
        " run_id VARCHAR(40) NOT NULL PRIMARY KEY,"
        " period VARCHAR(7) NOT NULL,"
        " status VARCHAR(16) NOT NULL,"
        " config_hash VARCHAR(64) NOT NULL,"
        f" started_at {moment} NOT NULL,"
        f" finished_at {moment},"
        " message VARCHAR(4000),"
        " totals JSON)"
    )


def test_a_database_from_before_migrations_is_stamped_and_upgraded(control_url: str) -> None:
    engine = create_engine(control_url)
    started = (
        "2026-09-30 12:00:00+00:00"
        if engine.dialect.name == "postgresql"
        else ("2026-09-30 12:00:00.000000")
    )
    with engine.begin() as connection:
        connection.execute(text(_old_runs_table(engine.dialect.name)))
        connection.execute(text("CREATE INDEX ix_runs_period ON runs (period)"))
        connection.execute(
            text(
                "INSERT INTO runs VALUES ('2026-09-old', '2026-09', 'published', 'abc', "
                ":started, :started, NULL, :totals)"
            ),
            {"started": started, "totals": '{"pools": 2}'},
        )
    with engine.connect() as connection:
        assert migrate.current(connection) is None
    engine.dispose()

    control = ControlPlane(control_url)
    with control.engine.connect() as connection:
        assert migrate.current(connection) == "0008"
        assert set(inspect(connection).get_table_names()) >= LEDGER_TABLES
    kept = control.published_run("2026-09")
    assert kept is not None
    assert (kept.run_id, kept.status, kept.config_hash) == ("2026-09-old", "published", "abc")
    assert (kept.totals, kept.inputs) == ({"pools": 2}, None)
    assert audit.aware(kept.started_at) == datetime(2026, 9, 30, 12, tzinfo=UTC)
    # the upgraded database is the schema a fresh one gets, and works as one
    assert _differences(control) == []
    control.start_run("2026-10-new", "2026-10", "def")
    control.finish_run("2026-10-new", "published", None, {"pools": 1}, {"cost_lines/a": "h"})
    assert [run.run_id for run in control.runs()] == ["2026-09-old", "2026-10-new"]
    assert control.runs("2026-10")[0].inputs == {"cost_lines/a": "h"}
    control.dispose()


def test_the_audit_log_refuses_update_and_delete(control_url: str) -> None:
    control = ControlPlane(control_url)
    with control.transaction() as session:
        audit.record(session, "alice", "period.closed", "2026-10", run_id="r1")
        audit.record(session, "bob", "dispute.open", "dispute #1")
    attempts = [
        "UPDATE audit_log SET actor = 'mallory' WHERE actor = 'alice'",
        "UPDATE audit_log SET details = NULL",
        "DELETE FROM audit_log WHERE actor = 'bob'",
        "DELETE FROM audit_log",
    ]
    if control.engine.dialect.name == "postgresql":  # SQLite has no TRUNCATE
        attempts.append("TRUNCATE audit_log")
    for statement in attempts:
        with pytest.raises(DBAPIError, match="the audit log is append-only"):
            execute(control, statement)
    found = [(e.actor, e.action, e.subject, e.details) for e in audit.entries(control)]
    assert found == [
        ("alice", "period.closed", "2026-10", {"run_id": "r1"}),
        ("bob", "dispute.open", "dispute #1", None),
    ]
    # appending still works
    with control.transaction() as session:
        audit.record(session, "carol", "period.in_review", "2026-11")
    assert [e.actor for e in audit.entries(control)] == ["alice", "bob", "carol"]
    control.dispose()
