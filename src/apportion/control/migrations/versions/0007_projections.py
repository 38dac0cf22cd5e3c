"""Projections: proposed workloads priced before they run, compared with actuals later.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "projections",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("start", sa.String(7), nullable=False),
        sa.Column("horizon", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total", sa.String(64), nullable=False),  # exact decimal text (Money)
        sa.Column("proposal", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_index("ix_projections_name", "projections", ["name"])


def downgrade() -> None:
    op.drop_index("ix_projections_name", table_name="projections")
    op.drop_table("projections")
