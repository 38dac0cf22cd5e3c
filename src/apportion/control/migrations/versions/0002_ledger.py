"""The ledger: periods, closings with their hash chain, frozen statement lines, journal lines,
adjustments, disputes and their events, and the append-only audit log; runs record their
input partitions.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY = "the audit log is append-only"
# money columns hold exact decimal text (apportion.control.models.Money), String(64) underneath


def _when() -> sa.Column[object]:
    return sa.Column("at", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("runs") as runs:
        runs.add_column(sa.Column("inputs", sa.JSON(), nullable=True))
    op.create_table(
        "periods",
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(40), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "closings",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("period", sa.String(7), nullable=False, unique=True),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("previous_hash", sa.String(64), nullable=True),
        sa.Column("chain_hash", sa.String(64), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_by", sa.String(200), nullable=False),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
    )
    op.create_table(
        "statement_lines",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("period", sa.String(7), sa.ForeignKey("closings.period"), nullable=False),
        sa.Column("line_id", sa.String(24), nullable=False),
        sa.Column("payer", sa.Text(), nullable=False),
        sa.Column("workload", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.String(64), nullable=False),
        sa.Column("adjustment_id", sa.Integer(), nullable=True),
        sa.UniqueConstraint("period", "line_id"),
    )
    op.create_index("ix_statement_lines_period", "statement_lines", ["period"])
    op.create_table(
        "journal_lines",
        sa.Column("line_id", sa.String(40), primary_key=True),
        sa.Column("entry_id", sa.String(40), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(7), sa.ForeignKey("closings.period"), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("account", sa.String(100), nullable=False),
        sa.Column("payer", sa.Text(), nullable=False),
        sa.Column("workload", sa.Text(), nullable=True),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("debit", sa.String(64), nullable=False),
        sa.Column("credit", sa.String(64), nullable=False),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("statement_line_id", sa.String(24), nullable=True),
    )
    op.create_index("ix_journal_lines_entry_id", "journal_lines", ["entry_id"])
    op.create_index("ix_journal_lines_period", "journal_lines", ["period"])
    op.create_table(
        "adjustments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("corrects_period", sa.String(7), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("dispute_id", sa.Integer(), nullable=True),
        sa.Column("corrects_line_id", sa.String(24), nullable=True),
        sa.Column("payer", sa.Text(), nullable=False),
        sa.Column("workload", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.String(64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_index("ix_adjustments_period", "adjustments", ["period"])
    op.create_index("ix_adjustments_corrects_period", "adjustments", ["corrects_period"])
    op.create_table(
        "disputes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("line_id", sa.String(24), nullable=False),
        sa.Column("payer", sa.Text(), nullable=False),
        sa.Column("workload", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("line_amount", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("claimed_amount", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("opened_by", sa.String(200), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("accepted_amount", sa.String(64), nullable=True),
        sa.Column("adjustment_id", sa.Integer(), nullable=True),
    )
    op.create_index("ix_disputes_period", "disputes", ["period"])
    op.create_table(
        "dispute_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("dispute_id", sa.Integer(), sa.ForeignKey("disputes.id"), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        _when(),
        sa.Column("reason", sa.Text(), nullable=True),
    )
    op.create_index("ix_dispute_events_dispute_id", "dispute_events", ["dispute_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _when(),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    _refuse_audit_changes()


def _refuse_audit_changes() -> None:
    """The application only appends; the database refuses anyone's UPDATE or DELETE too."""
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
        return
    for event in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    for table in (
        "audit_log",
        "dispute_events",
        "disputes",
        "adjustments",
        "journal_lines",
        "statement_lines",
        "closings",
        "periods",
    ):
        op.drop_table(table)
    with op.batch_alter_table("runs") as runs:
        runs.drop_column("inputs")
