"""The pages. Each one calls the same library function as its JSON twin in apportion.api.v1
and renders the result; scoping happened in that function's queries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from apportion.access.sessions import LIFETIME, close_session, open_session
from apportion.api.auth import COOKIE, authenticated
from apportion.web.render import render

router = APIRouter(include_in_schema=False)


def mount(app: FastAPI) -> None:
    app.include_router(router)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, error: str | None = None) -> Response:
    return render(request, "login.html", {"error": error}, caller=None)


@router.post("/login")
def login(request: Request, token: Annotated[str, Form(max_length=200)]) -> Response:
    opened = open_session(request.app.state.workspace.control, token.strip())
    if opened is None:
        return render(
            request, "login.html", {"error": "unknown or revoked token"}, caller=None, status=401
        )
    secret, _ = opened
    response = RedirectResponse("/", status_code=303)
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
def logout(request: Request) -> Response:
    found = authenticated(request)
    if found is not None and found.session_secret is not None:
        close_session(request.app.state.workspace.control, found.session_secret, found.caller)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _https(request: Request) -> bool:
    """Behind TLS, directly or through a proxy that says so, the cookie is Secure."""
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded.lower() == "https"
