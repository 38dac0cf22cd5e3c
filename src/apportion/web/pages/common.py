"""What every page shares: who is calling (signed-out visitors are sent to /login and back) and
the workspace the server reads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from apportion.access import Caller
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


def workspace_of(request: Request) -> Any:
    return request.app.state.workspace
