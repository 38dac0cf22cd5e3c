"""The control plane: small, transactional state in SQLAlchemy (SQLite by default, PostgreSQL
by URL), migrated by Alembic when opened. Allocation runs are recorded here; the ledger's
modules (periods, close, disputes, audit) work through :meth:`ControlPlane.transaction`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from apportion.control import migrate
from apportion.control.models import CLOSED, PeriodRecord, Run
from apportion.control.seal import LedgerKey


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    period: str
    status: str
    config_hash: str
    started_at: datetime
    finished_at: datetime | None
    message: str | None
    totals: Any
    inputs: dict[str, str] | None


class ControlPlane:
    def __init__(self, url: str, ledger_key: LedgerKey | None = None) -> None:
        # the key that seals closings lives outside this database (the workspace folder or
        # the environment); without a workspace, only the environment can name it
        self.ledger_key = ledger_key or LedgerKey()
        parsed = make_url(url)
        if parsed.drivername == "postgresql":
            # plain postgresql:// would mean psycopg2; psycopg 3 is the driver we ship with
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.url = parsed
        if parsed.drivername.startswith("sqlite"):
            # a writer waits up to 30 s for another's transaction instead of failing
            self.engine = create_engine(parsed, connect_args={"timeout": 30})
            _sqlite_transactions(self.engine)
        else:
            self.engine = create_engine(parsed)
        # writers: on SQLite a transaction that will write takes the write lock when it
        # begins, so what it reads first is what it writes over (PostgreSQL: row locks and
        # conditional UPDATEs do the same)
        self._writer = self.engine.execution_options(immediate=True)
        migrate.upgrade(self._writer)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with Session(self._writer, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with Session(self.engine) as session:
            yield session

    def start_run(self, run_id: str, period: str, config_hash: str) -> None:
        with self.transaction() as session:
            session.add(
                Run(
                    run_id=run_id,
                    period=period,
                    status="running",
                    config_hash=config_hash,
                    started_at=datetime.now(UTC),
                )
            )

    def finish_run(
        self,
        run_id: str,
        status: str,
        message: str | None,
        totals: Any,
        inputs: dict[str, str] | None = None,
        session: Session | None = None,
    ) -> None:
        if session is None:
            with self.transaction() as own:
                self.finish_run(run_id, status, message, totals, inputs, own)
            return
        run = session.get_one(Run, run_id)
        run.status = status
        run.message = message
        run.totals = json.loads(json.dumps(totals, default=str))
        run.inputs = inputs
        run.finished_at = datetime.now(UTC)

    def run(self, run_id: str) -> RunRecord | None:
        with self.reading() as session:
            found = session.get(Run, run_id)
            return _record(found) if found else None

    def published_run(self, period: str) -> RunRecord | None:
        with self.reading() as session:
            run = session.scalars(
                select(Run)
                .where(Run.period == period, Run.status == "published")
                .order_by(Run.started_at.desc())
                .limit(1)
            ).first()
            return _record(run) if run else None

    def runs(self, period: str | None = None) -> list[RunRecord]:
        with self.reading() as session:
            query = select(Run).order_by(Run.started_at)
            if period:
                query = query.where(Run.period == period)
            return [_record(run) for run in session.scalars(query)]

    def closed_periods(self, periods: Iterable[str]) -> set[str]:
        """Which of ``periods`` are closed (and so never change)."""
        wanted = set(periods)
        if not wanted:
            return set()
        with self.reading() as session:
            found = session.scalars(
                select(PeriodRecord.period).where(
                    PeriodRecord.period.in_(sorted(wanted)), PeriodRecord.state == CLOSED
                )
            )
            return set(found)

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_transactions(engine: Engine) -> None:
    """pysqlite begins a transaction only before a write, so reads and DDL would run outside
    one: SQLAlchemy's documented recipe hands BEGIN to SQLite itself (BEGIN IMMEDIATE for
    writers), and turns on the foreign keys SQLite otherwise ignores."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys = ON")

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get("immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _record(run: Run) -> RunRecord:
    return RunRecord(
        run_id=run.run_id,
        period=run.period,
        status=run.status,
        config_hash=run.config_hash,
        started_at=run.started_at,
        finished_at=run.finished_at,
        message=run.message,
        totals=run.totals,
        inputs=run.inputs,
    )
