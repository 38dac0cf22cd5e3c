"""The pages. Each calls the same library function as its JSON twin in apportion.api.v1 (and
links to it) and renders the result; scoping happened in that function's queries. Signed-out
visitors are sent to /login; forms carry the session's CSRF token."""

from __future__ import annotations

from importlib import resources
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from apportion.web.pages import disputes, drill, operating, periods, reference, review, signin
from apportion.web.pages.common import SignInFirst


def mount(app: FastAPI) -> None:
    static = resources.files("apportion.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    for module in (signin, periods, drill, disputes, review, operating, reference):
        app.include_router(module.router)

    @app.exception_handler(SignInFirst)
    async def _sign_in(request: Request, exc: SignInFirst) -> Response:
        return RedirectResponse("/login?" + urlencode({"next": exc.back}), status_code=303)
