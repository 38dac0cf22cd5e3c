"""The control plane: small, transactional state kept in SQLAlchemy (SQLite by default)."""

from apportion.ledger.controlplane import ControlPlane, RunRecord

__all__ = ["ControlPlane", "RunRecord"]
