"""The work the API starts in the background."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from apportion.access import Caller
from apportion.allocate.plan import refuse_if_empty
from apportion.api.jobs import Job, Jobs
from apportion.ledger.allocation import allocate_period
from apportion.ledger.periods import refuse_if_closed
from apportion.periods import Period


def start_allocation(app: FastAPI, period: str, caller: Caller) -> Job:
    parsed = Period.parse(period)
    workspace = app.state.workspace
    # refused now, as a 409 (closed) or a 422 (no bills) that says why, not as a background
    # job that fails later
    refuse_if_closed(workspace.control, str(parsed))
    refuse_if_empty(workspace.data, parsed)

    def work(say: Any) -> dict[str, Any]:
        result = allocate_period(workspace, period, progress=say, actor=caller.actor)
        return {
            "run_id": result.run_id,
            "published": result.published,
            "pools": result.pools,
            "allocations": result.allocations,
            "folded": [
                {"dimension": d, "written": written, "folded": folded}
                for d, written, folded in result.folded
            ],
            "notes": list(result.notes),
        }

    jobs: Jobs = app.state.jobs
    return jobs.start("allocate", period, caller.actor, work)
