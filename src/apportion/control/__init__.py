"""The control plane: small, transactional state kept in SQLAlchemy (SQLite by default,
PostgreSQL by URL) and migrated by Alembic: runs, periods, closings, disputes, tokens and the
audit log. The ledger's modules give this state its meaning; this package only keeps it."""

from apportion.control.plane import ControlPlane, RunRecord

__all__ = ["ControlPlane", "RunRecord"]
