"""Allocation runs: the control plane as it was before the ledger. Workspaces created then have
this table without Alembic's version table; they are stamped at this revision.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(40), primary_key=True),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("config_hash", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message", sa.String(4000), nullable=True),
        sa.Column("totals", sa.JSON(), nullable=True),
    )
    op.create_index("ix_runs_period", "runs", ["period"])


def downgrade() -> None:
    op.drop_index("ix_runs_period", "runs")
    op.drop_table("runs")
