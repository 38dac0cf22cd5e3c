"""Sealed closings: which scheme made a closing's chain hash (NULL: plain SHA-256, as every
closing before the ledger key; "hmac-sha256": keyed with the ledger key).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("closings") as closings:
        closings.add_column(sa.Column("seal", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("closings") as closings:
        closings.drop_column("seal")
