"""The server: the REST API under /api/v1 (OpenAPI at /openapi.json) and the web UI, over one
workspace. Library errors become HTTP answers here, once: not found (or not the caller's) is
404, a request the ledger refuses is 409, bad input is 422, and a body over the limit is 413."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from apportion import __version__
from apportion.api import v1
from apportion.api.jobs import Jobs
from apportion.api.limits import BodyLimit
from apportion.api.served import ServedWorkspace
from apportion.errors import USAGE_ERRORS, WORK_ERRORS
from apportion.explore.scope import NotFoundError
from apportion.ledger.close import CloseRefusedError
from apportion.ledger.disputes import DisputeError
from apportion.ledger.periods import PeriodStateError
from apportion.ledger.statement import StatementNotFoundError
from apportion.report.published import NotAllocatedError

MAX_BODY_BYTES = 1024 * 1024  # forms and JSON bodies: a dispute's reason, not a bill
NOT_FOUND = (NotFoundError, StatementNotFoundError, NotAllocatedError)
REFUSED = (CloseRefusedError, DisputeError, PeriodStateError)


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
    )
    app.state.workspace = workspace
    app.state.jobs = jobs
    app.include_router(v1.router)
    _errors(app)
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    from apportion.web import pages

    pages.mount(app)
    return app


def _errors(app: FastAPI) -> None:
    def answer(status: int) -> Callable[[Request, Exception], Awaitable[Response]]:
        async def handler(request: Request, exc: Exception) -> Response:
            return JSONResponse({"detail": str(exc)}, status_code=status)

        return handler

    statuses: dict[type[Exception], int] = {
        **dict.fromkeys((*USAGE_ERRORS, ValueError), 422),
        **dict.fromkeys((*REFUSED, *WORK_ERRORS), 409),
        **dict.fromkeys(NOT_FOUND, 404),
    }
    for kind, status in statuses.items():
        app.add_exception_handler(kind, answer(status))
