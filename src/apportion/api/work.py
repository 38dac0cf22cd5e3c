"""The work the API starts in the background."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from apportion.access import Caller
from apportion.api.jobs import Job, Jobs


def start_allocation(app: FastAPI, period: str, caller: Caller) -> Job:
    from apportion.allocate import allocate_period
    from apportion.periods import Period

    Period.parse(period)
    workspace = app.state.workspace

    def work(say: Any) -> dict[str, Any]:
        result = allocate_period(workspace, period, progress=say, actor=caller.actor)
        return {
            "run_id": result.run_id,
            "published": result.published,
            "pools": result.pools,
            "allocations": result.allocations,
        }

    jobs: Jobs = app.state.jobs
    return jobs.start("allocate", period, caller.actor, work)
