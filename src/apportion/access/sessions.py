"""Browser sessions: signing in with a token opens one; its cookie holds a random secret whose
hash is kept, with an expiry. Revoking the token ends its sessions. Forms carry a CSRF token
derived from the session's secret, which a page on another site cannot read or compute."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from apportion.access import tokens
from apportion.access.caller import Caller
from apportion.control import audit
from apportion.control.models import ApiToken, WebSession
from apportion.control.plane import ControlPlane

LIFETIME = timedelta(hours=12)


def open_session(control: ControlPlane, token: str) -> tuple[str, Caller] | None:
    """Sign in with a token: the new session's secret (for the cookie) and its caller, or None
    when the token is unknown or revoked."""
    caller = tokens.authenticate(control, token)
    if caller is None or caller.token_id is None:
        return None
    secret = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with control.transaction() as session:
        # sessions that expired are of no use to anyone: sweep them while writing anyway
        session.execute(delete(WebSession).where(WebSession.expires_at < now))
        session.add(
            WebSession(
                secret_hash=tokens.digest(secret),
                token_id=caller.token_id,
                created_at=now,
                expires_at=now + LIFETIME,
            )
        )
        audit.record(session, caller.actor, "session.open", f"token {caller.name}")
    return secret, caller


def session_caller(control: ControlPlane, secret: str) -> Caller | None:
    """The caller of a live session, or None (unknown, expired, or its token revoked)."""
    with control.reading() as session:
        row = session.execute(
            select(WebSession, ApiToken)
            .join(ApiToken, ApiToken.id == WebSession.token_id)
            .where(WebSession.secret_hash == tokens.digest(secret), ApiToken.revoked_at.is_(None))
        ).first()
        if row is None or audit.aware(row[0].expires_at) <= datetime.now(UTC):
            return None
        return tokens.caller_of(session, row[1])


def close_session(control: ControlPlane, secret: str, caller: Caller) -> None:
    with control.transaction() as session:
        session.execute(delete(WebSession).where(WebSession.secret_hash == tokens.digest(secret)))
        audit.record(session, caller.actor, "session.close", f"token {caller.name}")


def csrf_token(secret: str) -> str:
    """What forms of this session must send back."""
    return hmac.new(secret.encode(), b"apportion-csrf", hashlib.sha256).hexdigest()


def csrf_valid(secret: str, sent: str | None) -> bool:
    # as bytes: compare_digest refuses str with characters beyond ASCII, which anyone can send
    return sent is not None and hmac.compare_digest(csrf_token(secret).encode(), sent.encode())
