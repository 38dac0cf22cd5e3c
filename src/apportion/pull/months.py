"""What every pull shares: the whole months it reads, a file written whole under ``pulled/``,
and the ingest of what was written.

A pull reads whole months, from the first of the month ``since`` falls in to the end of the
month ``until`` falls in (or now, for the current month), so each month is one file and one
ingest partition: pulling a month again restates it, and a pull that starts or stops
mid-month cannot replace a month with part of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

from apportion.ingest.load import IngestResult, ingest_files
from apportion.ingest.registry import Format
from apportion.periods import Period
from apportion.progress import Progress
from apportion.pull.client import PullSetupError
from apportion.workspace import Workspace

# the files of each (source, ingest format), as a pull gathers them
Pulled = Mapping[tuple[str, Format], Sequence[Path]]


@dataclass(frozen=True)
class Month:
    """One month to read: ``start`` to ``stop`` (exclusive), both aware and in UTC."""

    period: Period
    start: datetime
    stop: datetime


def months_to_read(since: date, until: date | None) -> list[Month]:
    """The months from ``since``'s to ``until``'s (or now); the last stops at now."""
    if until is not None and until < since:
        raise PullSetupError(f"--until {until} is before --since {since}")
    end = _end(until)
    months = [
        Month(period, _utc(period.start), min(_utc(period.end), end))
        for period in _periods(since, end)
    ]
    if not months:
        raise PullSetupError(f"nothing to read: {since} is in the future")
    return months


def write_whole(path: Path, write: Callable[[TextIO], object]) -> Path:
    """Write the file under a temporary name and give it its name only once it is whole, so a
    pull that fails half-way never leaves half a month that looks like a month."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as handle:
            write(handle)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)
    return path


def pulled_folder(workspace: Workspace) -> Path:
    return workspace.root / "pulled"


def ingest_pulled(workspace: Workspace, pulled: Pulled, say: Progress) -> list[IngestResult]:
    """Ingest every file once all are written: a failed read ingests nothing."""
    results: list[IngestResult] = []
    for (source, fmt), paths in pulled.items():
        results += ingest_files(workspace, list(paths), fmt=fmt, source=source, progress=say)
    return results


def _end(until: date | None) -> datetime:
    """The end of what is read (exclusive): the end of ``until``'s month, at most now."""
    now = datetime.now(UTC)
    if until is None:
        return now
    return min(_utc(Period(until.year, until.month).end), now)


def _periods(since: date, end: datetime) -> list[Period]:
    periods = []
    period = Period(since.year, since.month)
    while _utc(period.start) < end:
        periods.append(period)
        period = period.next
    return periods


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)
