"""The admission webhook's HTTP face: ``POST /validate`` takes an AdmissionReview, ``GET
/healthz`` answers a probe. The decision is
:func:`apportion.tags.admission.answer_admission_review`."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, HTTPException, Request

from apportion.api.limits import BodyLimit
from apportion.tags.admission import ReviewError, answer_admission_review
from apportion.tags.policy import TagPolicy

MAX_BODY_BYTES = 3 * 1024 * 1024  # the API server's own limit on an object is about 1.5 MiB


def admission_app(policy: TagPolicy) -> FastAPI:
    app = FastAPI(title="apportion tag admission", docs_url=None, redoc_url=None)
    # the body is counted as it streams in (chunked or with a false Content-Length): past the
    # limit the answer is 413 and the rest is never read
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/validate")
    async def validate(request: Request) -> dict[str, Any]:
        body = await request.body()
        try:
            return answer_admission_review(json.loads(body), policy)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise HTTPException(400, f"not JSON: {exc}") from exc
        except ReviewError as exc:
            raise HTTPException(400, str(exc)) from exc

    return app
