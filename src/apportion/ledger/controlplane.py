"""Allocation runs and their state. Periods, statements, journals and disputes join this
database later (the ledger issue), with Alembic migrations beside it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String, create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class Run(Base):
    __tablename__ = "runs"

    run_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    period: Mapped[str] = mapped_column(String(7), index=True)
    status: Mapped[str] = mapped_column(String(16))  # running | published | failed
    config_hash: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    message: Mapped[str | None] = mapped_column(String(4000), nullable=True)
    totals: Mapped[Any] = mapped_column(JSON, nullable=True)


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


class ControlPlane:
    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        if parsed.drivername == "postgresql":
            # plain postgresql:// would mean psycopg2; psycopg 3 is the driver we ship with
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.engine = create_engine(parsed)
        Base.metadata.create_all(self.engine)

    def start_run(self, run_id: str, period: str, config_hash: str) -> None:
        with Session(self.engine) as session, session.begin():
            session.add(
                Run(
                    run_id=run_id,
                    period=period,
                    status="running",
                    config_hash=config_hash,
                    started_at=datetime.now(UTC),
                )
            )

    def finish_run(self, run_id: str, status: str, message: str | None, totals: Any) -> None:
        with Session(self.engine) as session, session.begin():
            run = session.get_one(Run, run_id)
            run.status = status
            run.message = message
            run.totals = json.loads(json.dumps(totals, default=str))
            run.finished_at = datetime.now(UTC)

    def published_run(self, period: str) -> RunRecord | None:
        with Session(self.engine) as session:
            run = session.scalars(
                select(Run)
                .where(Run.period == period, Run.status == "published")
                .order_by(Run.started_at.desc())
                .limit(1)
            ).first()
            return _record(run) if run else None

    def runs(self, period: str | None = None) -> list[RunRecord]:
        with Session(self.engine) as session:
            query = select(Run).order_by(Run.started_at)
            if period:
                query = query.where(Run.period == period)
            return [_record(run) for run in session.scalars(query)]

    def dispose(self) -> None:
        self.engine.dispose()


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
    )
