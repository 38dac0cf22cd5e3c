"""Monthly review: explanations recorded for the lines that moved beyond their thresholds.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "explanations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("payer", sa.Text(), nullable=False),
        sa.Column("workload", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("actual", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("explained_by", sa.String(200), nullable=False),
        sa.Column("explained_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_explanations_period", "explanations", ["period"])


def downgrade() -> None:
    op.drop_table("explanations")
