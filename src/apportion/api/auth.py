"""Who is calling: a bearer token (``Authorization: Bearer apt_...``) or a browser session
cookie. Requests that change state through a cookie must carry the session's CSRF token (a
form field or the ``X-CSRF-Token`` header); a bearer token is no ambient credential, so it
needs none."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from apportion.access import ADMIN, ANALYST, Caller
from apportion.access.sessions import csrf_token, csrf_valid, session_caller
from apportion.access.tokens import authenticate

COOKIE = "apportion_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Authenticated:
    caller: Caller
    session_secret: str | None  # set when the caller came by browser session

    @property
    def csrf(self) -> str | None:
        return csrf_token(self.session_secret) if self.session_secret else None


class LoginRequired(HTTPException):
    def __init__(self) -> None:
        super().__init__(
            401,
            "sign in: send `Authorization: Bearer <token>` (apportion token create)",
            headers={"WWW-Authenticate": "Bearer"},
        )


def authenticated(request: Request) -> Authenticated | None:
    """The caller, or None when the request carries no valid credential."""
    control = request.app.state.workspace.control
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if header:
        if scheme.lower() != "bearer":
            return None
        caller = authenticate(control, credential.strip())
        return Authenticated(caller, None) if caller else None
    secret = request.cookies.get(COOKIE)
    if secret:
        caller = session_caller(control, secret)
        return Authenticated(caller, secret) if caller else None
    return None


# Declared, so /openapi.json says how to authenticate; the credential itself is read by
# authenticated() below (auto_error=False: a missing one is our 401, with our message).
BEARER = HTTPBearer(
    auto_error=False, bearerFormat="apt_...", description="an API token (apportion token create)"
)
SESSION = APIKeyCookie(
    name=COOKIE, auto_error=False, description="a browser session (the sign-in form)"
)


async def current(
    request: Request,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None,
    _session: Annotated[str | None, Depends(SESSION)] = None,
) -> Authenticated:
    found = authenticated(request)
    if found is None:
        raise LoginRequired()
    if request.method not in SAFE_METHODS and found.session_secret is not None:
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and _is_form(request):
            sent = str((await request.form()).get(CSRF_FIELD) or "") or None
        if not csrf_valid(found.session_secret, sent):
            raise HTTPException(403, "the form's CSRF token is missing or wrong: reload the page")
    request.state.authenticated = found
    return found


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    return kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


async def caller(found: Annotated[Authenticated, Depends(current)]) -> Caller:
    return found.caller


async def analyst(found: Annotated[Caller, Depends(caller)]) -> Caller:
    """Reads across every cost centre: admins and analysts."""
    if found.role not in (ADMIN, ANALYST):
        raise HTTPException(403, "this needs an admin or analyst token")
    return found


async def admin(found: Annotated[Caller, Depends(caller)]) -> Caller:
    if found.role != ADMIN:
        raise HTTPException(403, "this needs an admin token")
    return found


AnyCaller = Annotated[Caller, Depends(caller)]
AnalystCaller = Annotated[Caller, Depends(analyst)]
AdminCaller = Annotated[Caller, Depends(admin)]
