"""The server: the REST API under /api/v1 (OpenAPI at /openapi.json) and the web UI, over one
workspace. Library errors become HTTP answers here, once: not found (or not the caller's) is
404, a request the ledger refuses is 409, bad input is 422, and a body over the limit is 413."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from apportion import __version__
from apportion.api import anomalies as anomaly_routes
from apportion.api import commitments, forecasts, playbooks, projections, review, v1
from apportion.api.jobs import Jobs
from apportion.api.limits import BodyLimit
from apportion.api.served import ServedWorkspace
from apportion.errors import BusyError, NotFoundError, RefusedError, WorkError
from apportion.web import pages
from apportion.web.render import render

MAX_BODY_BYTES = 1024 * 1024  # forms and JSON bodies: a dispute's reason, not a bill


def create_app(root: Path) -> FastAPI:
    workspace = ServedWorkspace(root)
    jobs = Jobs()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.shutdown()
        workspace.close()

    app = FastAPI(
        title="apportion",
        version=__version__,
        description="AI cost allocation: statements, drill-down to bill lines, disputes.",
        lifespan=lifespan,
        # Swagger UI and ReDoc load their scripts from a CDN: the schema is at /openapi.json
        docs_url=None,
        redoc_url=None,
    )
    app.state.workspace = workspace
    app.state.jobs = jobs
    app.include_router(v1.router)
    app.include_router(anomaly_routes.router)
    app.include_router(commitments.router)
    app.include_router(forecasts.router)
    app.include_router(playbooks.router)
    app.include_router(review.router)
    app.include_router(projections.router)
    _errors(app)
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    app.middleware("http")(_security_headers)

    pages.mount(app)
    return app


def _errors(app: FastAPI) -> None:
    def answer(status: int) -> Callable[[Request, Exception], Awaitable[Response]]:
        async def handler(request: Request, exc: Exception) -> Response:
            return _error(request, status, str(exc))

        return handler

    # Starlette picks the handler of the nearest class in the error's MRO
    statuses: dict[type[Exception], int] = {
        ValueError: 422,  # a UsageError is one, and so is a pydantic ValidationError
        NotFoundError: 404,
        RefusedError: 409,
        WorkError: 409,
    }
    for kind, status in statuses.items():
        app.add_exception_handler(kind, answer(status))

    @app.exception_handler(BusyError)
    async def _busy(request: Request, exc: BusyError) -> Response:
        # another process (a CLI allocation) holds DuckDB's file: try again shortly
        return _error(request, 503, str(exc), {"Retry-After": "30"})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if _is_api(request):
            return await http_exception_handler(request, exc)
        return _error(request, exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if _is_api(request):
            return await request_validation_exception_handler(request, exc)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:])}: {HINTS.get(str(e['loc'][-1]), e['msg'])}"
            for e in exc.errors()
        )
        return _error(request, 422, problems)


# what a page says of a bad parameter, where the schema's own words are a regular expression
HINTS = {
    "period": "a billing month is YYYY-MM, 2026-10 say",
    "line_id": "a statement line's id is 16 hexadecimal characters (or adj-N)",
    "pool_id": "a pool's id is hexadecimal",
}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error(
    request: Request, status: int, detail: str, headers: Mapping[str, str] | None = None
) -> Response:
    """JSON for the API; for a page, the same message on a page."""
    if _is_api(request):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)

    titles = {401: "Sign in", 403: "Not allowed", 404: "Not found", 409: "Refused"}
    found = getattr(request.state, "authenticated", None)
    return render(
        request,
        "error.html",
        {"status": status, "title": titles.get(status, "Cannot show this"), "detail": detail},
        caller=found.caller if found else None,
        status=status,
    )


# scripts and styles from this server only; pygal's SVG and htmx's swaps style inline
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if not request.url.path.startswith("/static/"):
        # pages, JSON and CSV show one caller's private cost: no shared or browser cache
        response.headers.setdefault("Cache-Control", "no-store")
    return response
