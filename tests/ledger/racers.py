"""What the child processes of the concurrency tests run (spawned, so importable by name).
Each opens the control plane itself, waits for the other racer at the barrier, then does one
thing and reports (outcome, who, detail) on the queue."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from apportion.control.models import Adjustment
from apportion.control.plane import ControlPlane
from apportion.control.seal import LedgerKey
from apportion.ledger import disputes
from apportion.ledger.close import ClosePlan, commit_close
from apportion.ledger.periods import ConcurrentChangeError, PeriodStateError


def _race(
    url: str,
    who: str,
    act: Callable[[ControlPlane], Any],
    barrier: Barrier,
    results: Queue[Any],
    key_file: Path | None = None,
) -> None:
    control = ControlPlane(url, LedgerKey(key_file))
    try:
        barrier.wait(timeout=60)
        results.put(("done", who, act(control)))
    except (ConcurrentChangeError, PeriodStateError) as exc:
        results.put((type(exc).__name__, who, str(exc)))
    except Exception as exc:  # reported to the test, which fails on it
        results.put(("error", who, repr(exc)))
    finally:
        control.dispose()


def close_at_once(
    url: str, key_file: Path, plan: ClosePlan, barrier: Barrier, results: Queue[Any]
) -> None:
    """Commit the prepared close, sealed with the workspace's ledger key; reports the
    closing's sequence number."""

    def commit(control: ControlPlane) -> int:
        return commit_close(control, plan).seq

    _race(url, plan.actor, commit, barrier, results, key_file)


def accept_at_once(
    url: str, number: int, amount: str, barrier: Barrier, results: Queue[Any]
) -> None:
    """Accept the dispute, posting its adjustments; reports the period they landed in."""

    def accept(control: ControlPlane) -> str:
        disputes.accept(control, number, "alice", Decimal(amount), "agreed")
        with control.reading() as session:
            landed = session.get_one(Adjustment, disputes.show(control, number).adjustment_id)
            return landed.period

    _race(url, "accept", accept, barrier, results)
