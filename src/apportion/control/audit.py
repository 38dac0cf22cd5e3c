"""The audit log: every state change in the control plane, appended in the same transaction as
the change itself, never updated or deleted (the database refuses both)."""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from apportion.control.models import AuditEntry
from apportion.control.plane import ControlPlane

ENV_USER = "APPORTION_USER"


def current_actor() -> str:
    """Who is acting: $APPORTION_USER (a service or the REST API's caller), else the login."""
    named = os.environ.get(ENV_USER, "").strip()
    if named:
        return named
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user with no passwd entry
        return "unknown"


SUBJECT_LENGTH = 200  # AuditEntry.subject's column; PostgreSQL refuses a longer one


def record(session: Session, actor: str, action: str, subject: str, **details: Any) -> None:
    """Append an entry. A subject built from long names is shortened to fit its column (with
    an ellipsis): the details keep every name in full."""
    if len(subject) > SUBJECT_LENGTH:
        subject = subject[: SUBJECT_LENGTH - 1] + "…"
    session.add(
        AuditEntry(
            at=datetime.now(UTC),
            actor=actor,
            action=action,
            subject=subject,
            details=json.loads(json.dumps(details, default=str)) if details else None,
        )
    )


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    details: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "details": self.details,
        }


def entries(control: ControlPlane, since: datetime | None = None) -> list[AuditRecord]:
    query = select(AuditEntry).order_by(AuditEntry.id)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    with control.reading() as session:
        return [
            AuditRecord(e.id, aware(e.at), e.actor, e.action, e.subject, e.details)
            for e in session.scalars(query)
        ]


def aware(moment: datetime) -> datetime:
    """In UTC: SQLite hands back naive datetimes (every one here was written in UTC),
    PostgreSQL aware ones in the server's time zone."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
