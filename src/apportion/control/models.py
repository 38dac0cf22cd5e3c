"""The control plane's tables (SQLAlchemy 2). Alembic migrations beside this module create and
change them; a test checks the two agree.

Money is kept as exact decimal text: SQLite has no decimal type (SQLAlchemy's Numeric there
goes through a float), and statements are hashed from exactly what is stored.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Money(TypeDecorator[Decimal]):
    """An exact decimal, stored as its plain text (``-12.30``)."""

    impl = String(64)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise TypeError(f"money must be a finite Decimal, not {value!r}")
        return f"{value:f}"

    def process_result_value(self, value: str | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


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
    # table/source -> SHA-256 of the file hashes the period's rows came from
    inputs: Mapped[Any] = mapped_column(JSON, nullable=True)


# the states a period's record takes (apportion.ledger.periods gives them their rules)
OPEN = "open"
ALLOCATED = "allocated"
IN_REVIEW = "in_review"
CLOSED = "closed"


class PeriodRecord(Base):
    """A period's place in open -> allocated -> in_review -> closed. ``version`` rises with
    every transition, so a transition is one conditional UPDATE that exactly one writer wins."""

    __tablename__ = "periods"

    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=0)
    run_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Closing(Base):
    """A closed period's frozen statements: their hash, chained to the closing before."""

    __tablename__ = "closings"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    period: Mapped[str] = mapped_column(String(7), unique=True)
    run_id: Mapped[str] = mapped_column(String(40))
    metric: Mapped[str] = mapped_column(String(32))
    content_hash: Mapped[str] = mapped_column(String(64))
    previous_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    chain_hash: Mapped[str] = mapped_column(String(64))
    closed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str] = mapped_column(String(200))
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # how chain_hash was made: None = plain SHA-256 (closed before the ledger key existed)
    seal: Mapped[str | None] = mapped_column(String(16), nullable=True)


class StatementLineRecord(Base):
    """One frozen statement line of a closed period."""

    __tablename__ = "statement_lines"
    __table_args__ = (UniqueConstraint("period", "line_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(7), ForeignKey("closings.period"), index=True)
    line_id: Mapped[str] = mapped_column(String(24))
    payer: Mapped[str] = mapped_column(Text)
    workload: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(Text)
    rule: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(Money)
    adjustment_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class JournalLineRecord(Base):
    """A line of a chargeback journal entry, posted when its period closed."""

    __tablename__ = "journal_lines"

    line_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(40), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    period: Mapped[str] = mapped_column(String(7), ForeignKey("closings.period"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    account: Mapped[str] = mapped_column(String(100))
    payer: Mapped[str] = mapped_column(Text)
    workload: Mapped[str | None] = mapped_column(Text, nullable=True)
    category: Mapped[str | None] = mapped_column(Text, nullable=True)
    debit: Mapped[Decimal] = mapped_column(Money)
    credit: Mapped[Decimal] = mapped_column(Money)
    memo: Mapped[str] = mapped_column(Text)
    statement_line_id: Mapped[str | None] = mapped_column(String(24), nullable=True)


class Adjustment(Base):
    """A correction to a period, posted in a later open one: an accepted dispute, or the
    difference a restated bill made to a closed period."""

    __tablename__ = "adjustments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(7), index=True)  # where it is posted
    corrects_period: Mapped[str] = mapped_column(String(7), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # dispute | restatement
    dispute_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    corrects_line_id: Mapped[str | None] = mapped_column(String(24), nullable=True)
    payer: Mapped[str] = mapped_column(Text)
    workload: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(Text)
    rule: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(32))  # the corrected line's
    # the corrected line's mode: a credit for a charged-back line is charged back, even where
    # the category is shown back in the period it lands in
    mode: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(Money)
    description: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(200))


class Dispute(Base):
    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(7), index=True)
    line_id: Mapped[str] = mapped_column(String(24))
    payer: Mapped[str] = mapped_column(Text)
    workload: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(Text)
    rule: Mapped[str] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(String(3))
    line_amount: Mapped[Decimal] = mapped_column(Money)  # the line as it stood when disputed
    mode: Mapped[str] = mapped_column(String(16))  # the line's showback or chargeback
    claimed_amount: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str | None] = mapped_column(Text, nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=0)
    opened_by: Mapped[str] = mapped_column(String(200))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)
    accepted_amount: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    adjustment_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class DisputeEvent(Base):
    __tablename__ = "dispute_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dispute_id: Mapped[int] = mapped_column(Integer, ForeignKey("disputes.id"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class AuditEntry(Base):
    """Append-only: the migrations add triggers that refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200))
    details: Mapped[Any] = mapped_column(JSON, nullable=True)


class ApiToken(Base):
    """Who may call the REST API and open the web UI. Only a hash of the secret is kept: the
    token itself is shown once, when it is created."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # admin | analyst | consumer
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class TokenGrant(Base):
    """A cost centre (a value of the ledger's payer dimension) a consumer token may read and
    dispute."""

    __tablename__ = "token_grants"
    __table_args__ = (UniqueConstraint("token_id", "payer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_id: Mapped[int] = mapped_column(Integer, ForeignKey("api_tokens.id"), index=True)
    payer: Mapped[str] = mapped_column(Text)


class WebSession(Base):
    """A browser signed in with a token. The cookie holds the session's secret; only its hash
    is kept, so a copy of the database opens no sessions."""

    __tablename__ = "web_sessions"

    secret_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[int] = mapped_column(Integer, ForeignKey("api_tokens.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Explanation(Base):
    """Why a line of the monthly review moved beyond its threshold, in its owner's words. A
    later explanation of the same line supersedes the earlier ones, which are kept."""

    __tablename__ = "explanations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(7), index=True)
    payer: Mapped[str] = mapped_column(Text)
    workload: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(Text)  # a cost category, or * for the use case's total
    currency: Mapped[str] = mapped_column(String(3))
    actual: Mapped[Decimal] = mapped_column(Money)  # the line as it stood when explained
    text: Mapped[str] = mapped_column(Text)
    explained_by: Mapped[str] = mapped_column(String(200))
    explained_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Forecast(Base):
    """What a cost centre expects a use case to cost in a period: a forecast or a budget
    submitted by people, or the statistical baseline saved by apportion. A resubmission of the
    same kind, period, cost centre, use case and currency replaces the amount (the audit log
    keeps what it replaced)."""

    __tablename__ = "forecasts"
    __table_args__ = (UniqueConstraint("kind", "period", "payer", "workload", "currency"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # forecast | budget | baseline
    period: Mapped[str] = mapped_column(String(7), index=True)
    payer: Mapped[str] = mapped_column(Text)
    workload: Mapped[str] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(Money)
    owner: Mapped[str] = mapped_column(String(200))  # whose accuracy it counts in
    submitted_by: Mapped[str] = mapped_column(String(200))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(200))  # the file, "api" or "baseline"


class Projection(Base):
    """A proposed workload's projected cost, saved at architecture review to be compared with
    actuals once it runs (apportion.analyse.projections). Saving the same name again keeps the
    earlier ones; the latest is compared."""

    __tablename__ = "projections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text, index=True)  # the use case it will run as
    start: Mapped[str] = mapped_column(String(7))
    horizon: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(Money)  # over the horizon
    proposal: Mapped[Any] = mapped_column(JSON)  # the proposal as validated
    result: Mapped[Any] = mapped_column(JSON)  # its months and scenarios, amounts as text
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(200))


class Commitment(Base):
    """A vendor commitment: reserved capacity, a committed-use contract, prepaid credit or an
    enterprise discount (apportion.analyse.commitments). ``end`` is the term's last day;
    ``scope`` is a match expression over cost lines, ``commitment_id`` the bills'
    CommitmentDiscountId."""

    __tablename__ = "commitments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)
    scope: Mapped[str | None] = mapped_column(Text, nullable=True)
    commitment_id: Mapped[str | None] = mapped_column(String(400), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(200))
