"""API tokens: created with a role (and a consumer's cost centres), shown once, kept as a
SHA-256 hash, revoked by name. Tokens carry 256 random bits, so a plain hash is as good as a
slow one here: there is no password to guess."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from apportion.access.caller import CONSUMER, ROLES, Caller
from apportion.control import audit
from apportion.control.models import ApiToken, TokenGrant
from apportion.control.plane import ControlPlane
from apportion.errors import UsageError

PREFIX = "apt_"  # makes a leaked token easy to recognise (secret scanners, logs)
MAX_NAME = 200


class AccessError(UsageError):
    """A token request that cannot be carried out (exit code 2)."""


@dataclass(frozen=True)
class TokenInfo:
    name: str
    role: str
    cost_centres: list[str]
    created_at: datetime
    created_by: str
    revoked_at: datetime | None

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "role": self.role,
            "cost_centres": self.cost_centres,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(control: ControlPlane, name: str, role: str, cost_centres: list[str], actor: str) -> str:
    """Create a token and return it: the only time it is ever shown."""
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise AccessError(f"a token needs a name of 1 to {MAX_NAME} characters")
    if role not in ROLES:
        raise AccessError(f"unknown role {role!r}: choose from {', '.join(ROLES)}")
    granted = sorted({c.strip() for c in cost_centres if c.strip()})
    if role == CONSUMER and not granted:
        raise AccessError("a consumer token needs at least one --cost-centre")
    if role != CONSUMER and granted:
        raise AccessError(f"an {role} token sees every cost centre: drop --cost-centre")
    secret = PREFIX + secrets.token_urlsafe(32)
    with control.transaction() as session:
        if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
            raise AccessError(f"a token named {name!r} exists already (revoke it first)")
        token = ApiToken(
            name=name,
            role=role,
            secret_hash=digest(secret),
            created_at=datetime.now(UTC),
            created_by=actor,
        )
        session.add(token)
        session.flush()
        session.add_all(TokenGrant(token_id=token.id, payer=payer) for payer in granted)
        audit.record(
            session, actor, "token.create", f"token {name}", role=role, cost_centres=granted
        )
    return secret


def revoke(control: ControlPlane, name: str, actor: str) -> None:
    with control.transaction() as session:
        token = session.scalars(select(ApiToken).where(ApiToken.name == name)).first()
        if token is None:
            raise AccessError(f"no token named {name!r}")
        if token.revoked_at is not None:
            raise AccessError(f"token {name!r} was revoked already")
        token.revoked_at = datetime.now(UTC)
        audit.record(session, actor, "token.revoke", f"token {name}")


def authenticate(control: ControlPlane, secret: str) -> Caller | None:
    """The caller a token stands for, or None for an unknown or revoked token."""
    if not secret.startswith(PREFIX):
        return None
    with control.reading() as session:
        token = session.scalars(
            select(ApiToken).where(
                ApiToken.secret_hash == digest(secret), ApiToken.revoked_at.is_(None)
            )
        ).first()
        return caller_of(session, token) if token else None


def caller_of(session: Session, token: ApiToken) -> Caller:
    payers = None
    if token.role == CONSUMER:
        payers = frozenset(
            session.scalars(select(TokenGrant.payer).where(TokenGrant.token_id == token.id))
        )
    return Caller(token_id=token.id, name=token.name, role=token.role, payers=payers)


def list_tokens(control: ControlPlane) -> list[TokenInfo]:
    with control.reading() as session:
        grants: dict[int, list[str]] = {}
        for grant in session.scalars(select(TokenGrant).order_by(TokenGrant.payer)):
            grants.setdefault(grant.token_id, []).append(grant.payer)
        return [
            TokenInfo(
                name=token.name,
                role=token.role,
                cost_centres=grants.get(token.id, []),
                created_at=audit.aware(token.created_at),
                created_by=token.created_by,
                revoked_at=audit.aware(token.revoked_at) if token.revoked_at else None,
            )
            for token in session.scalars(select(ApiToken).order_by(ApiToken.id))
        ]
