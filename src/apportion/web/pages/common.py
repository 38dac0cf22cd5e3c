"""What every page shares: who is calling (signed-out visitors are sent to /login and back) and
the workspace the server reads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from apportion.access import ADMIN, ANALYST, Caller
from apportion.api.auth import Authenticated, authenticated, current


class SignInFirst(Exception):
    """A page asked for without a session: the visitor goes to /login, then back."""

    def __init__(self, back: str) -> None:
        self.back = back


async def page_caller(request: Request) -> Caller:
    if authenticated(request) is None:
        query = request.url.query
        raise SignInFirst(request.url.path + (f"?{query}" if query else ""))
    found: Authenticated = await current(request)
    return found.caller


PageCaller = Annotated[Caller, Depends(page_caller)]


async def staff_page_caller(found: PageCaller) -> Caller:
    """A page that spans every cost centre (coverage, the portfolio, anomalies, maturity):
    admins and analysts; a consumer gets 403, as the page's JSON twin answers."""
    if found.role not in (ADMIN, ANALYST):
        raise HTTPException(403, "this page spans every cost centre: admins and analysts")
    return found


StaffPageCaller = Annotated[Caller, Depends(staff_page_caller)]


def workspace_of(request: Request) -> Any:
    return request.app.state.workspace
