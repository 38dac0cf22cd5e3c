"""Signing in with a token and out again. The sign-in form carries its own CSRF token; the
session cookie is HttpOnly, SameSite=Lax, and Secure behind HTTPS."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from apportion.access.sessions import LIFETIME, close_session, open_session
from apportion.api.auth import COOKIE, Authenticated, current
from apportion.web.pages.common import workspace_of
from apportion.web.render import render

router = APIRouter(include_in_schema=False)

LOGIN_COOKIE = "apportion_login"  # the sign-in form's own CSRF token (double submit)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: Annotated[str, Query(max_length=500)] = "/") -> Response:
    return _login_page(request, _local(next), None, 200)


def _login_page(request: Request, next: str, error: str | None, status: int) -> Response:
    """The form, with a fresh token in a cookie and in the form: another site can post a
    form here but cannot read the cookie, so it cannot sign a visitor in as someone else."""
    nonce = secrets.token_urlsafe(24)
    context = {"error": error, "next": next, "login_csrf": nonce}
    response = render(request, "login.html", context, caller=None, status=status)
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=_https(request),
        path="/login",
    )
    return response


@router.post("/login")
def login(
    request: Request,
    token: Annotated[str, Form(max_length=200)],
    login_csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), login_csrf.encode()):
        error = "the sign-in form expired or came from elsewhere: sign in again here"
        return _login_page(request, _local(next), error, 403)
    opened = open_session(workspace_of(request).control, token.strip())
    if opened is None:
        return _login_page(request, _local(next), "unknown or revoked token", 401)
    secret, _ = opened
    response = RedirectResponse(_local(next), status_code=303)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    response.set_cookie(
        COOKIE,
        secret,
        max_age=int(LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_https(request),
        path="/",
    )
    return response


@router.post("/logout")
async def logout(request: Request, found: Annotated[Authenticated, Depends(current)]) -> Response:
    if found.session_secret is not None:
        close_session(workspace_of(request).control, found.session_secret, found.caller)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _local(target: str) -> str:
    """Only a path on this site: /login?next= must not send anyone elsewhere."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


def _https(request: Request) -> bool:
    """Behind TLS, directly or through a proxy that says so, the cookie is Secure."""
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded.lower() == "https"
