"""Long work started from the API (an allocation) runs in a thread of its own, one at a time,
while requests go on being served; its progress and outcome are kept for the caller to poll."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
KEPT = 100  # finished jobs remembered


@dataclass
class Job:
    id: str
    kind: str
    subject: str
    started_by: str
    state: str = QUEUED
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    progress: list[str] = field(default_factory=list)
    result: dict[str, Any] | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "subject": self.subject,
            "started_by": self.started_by,
            "state": self.state,
            "created_at": self.created_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "progress": self.progress[-20:],
            "result": self.result,
            "error": self.error,
        }


Work = Callable[[Callable[[str], None]], dict[str, Any]]


class Jobs:
    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="apportion-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self.listeners: list[Callable[[Job, str], None]] = []  # see every progress message

    def start(self, kind: str, subject: str, started_by: str, work: Work) -> Job:
        job = Job(uuid.uuid4().hex[:12], kind, subject, started_by)
        with self._lock:
            self._jobs[job.id] = job
            self._forget_old()
        self._pool.submit(self._run, job, work)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def all(self) -> list[Job]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.created_at, reverse=True)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, job: Job, work: Work) -> None:
        job.state = RUNNING

        def say(message: str) -> None:
            job.progress.append(message)
            for listener in self.listeners:
                listener(job, message)

        try:
            job.result = work(say)
            job.state = SUCCEEDED
        except Exception as exc:  # a job's failure is its outcome, reported when polled
            job.error = str(exc) or type(exc).__name__
            job.state = FAILED
        finally:
            job.finished_at = datetime.now(UTC)

    def _forget_old(self) -> None:
        done = [j for j in self._jobs.values() if j.finished_at is not None]
        for job in sorted(done, key=lambda j: j.created_at)[:-KEPT] if len(done) > KEPT else []:
            del self._jobs[job.id]
