"""A workspace is one folder: apportion.yaml, the data-plane file, the control-plane database
and raw/, where every ingested file is kept by content hash."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import IO

from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from apportion.config import Config, load_config, parse_config
from apportion.config.loader import CONFIG_FILE
from apportion.control import ControlPlane
from apportion.control.audit import aware
from apportion.control.models import Run
from apportion.control.seal import KEY_FILE, LedgerKey
from apportion.engine import DataPlane, open_dataplane
from apportion.errors import UsageError

try:  # advisory locks: POSIX; elsewhere only the stale lease below tells a dead run
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

ENV_WORKSPACE = "APPORTION_WORKSPACE"
LEASES = ".runs"  # one lock file per allocation run under way
# a run still `running` with no lock file (started on another machine sharing the control
# plane, or by an older version) is taken for dead once it is this old
STALE_AFTER = timedelta(hours=12)


class WorkspaceError(UsageError):
    pass


def default_root() -> Path:
    return Path(os.environ.get(ENV_WORKSPACE, "."))


def default_config_text() -> str:
    return resources.files("apportion.config").joinpath("default.yaml").read_text("utf-8")


class Workspace:
    def __init__(self, root: Path, config: Config) -> None:
        self.root = root
        self.config = config

    @classmethod
    def open(cls, root: Path) -> Workspace:
        return cls(root, load_config(root))

    @classmethod
    def create(cls, root: Path, config_text: str | None = None) -> Workspace:
        root.mkdir(parents=True, exist_ok=True)
        path = root / CONFIG_FILE
        if path.exists():
            raise WorkspaceError(f"{path} already exists; not overwriting it")
        text = config_text if config_text is not None else default_config_text()
        config = parse_config(text, source=str(path))
        path.write_text(text, encoding="utf-8")
        workspace = cls(root, config)
        workspace.raw_dir.mkdir(exist_ok=True)
        workspace.data.ensure_tables()
        _ = workspace.control
        return workspace

    @property
    def raw_dir(self) -> Path:
        return self.root / "raw"

    @cached_property
    def data(self) -> DataPlane:
        plane = open_dataplane(self.config.engine, self.root)
        plane.ensure_tables()
        return plane

    @cached_property
    def control(self) -> ControlPlane:
        control = ControlPlane(self._control_url(), LedgerKey(self.root / KEY_FILE))
        fail_abandoned_runs(control, self.root / LEASES)
        return control

    @contextmanager
    def run_lease(self, run_id: str) -> Iterator[None]:
        """An exclusive lock on ``.runs/<run_id>`` while the run goes on. The system drops
        it when the process ends, kill -9 included, so a later open finds it free and marks
        the run failed (:func:`fail_abandoned_runs`)."""
        held = _lock(self.root / LEASES / run_id)
        try:
            yield
        finally:
            if held is not None:
                with suppress(OSError):
                    Path(held.name).unlink()
                held.close()

    def _control_url(self) -> str:
        url = make_url(self.config.control_plane)
        if url.drivername.startswith("sqlite") and url.database and url.database != ":memory:":
            database = Path(url.database)
            if not database.is_absolute():
                return str(url.set(database=str(self.root / database)))
        return self.config.control_plane

    def close(self) -> None:
        if "data" in self.__dict__:
            self.data.close()
        if "control" in self.__dict__:
            self.control.dispose()


def fail_abandoned_runs(control: ControlPlane, leases: Path) -> list[str]:
    """Mark failed the runs left ``running`` by a process that is gone: its lease file is
    there but no longer locked (the process died before removing it), or there is none and
    the run is older than :data:`STALE_AFTER`. Only a row still ``running`` is changed, so a
    run that finishes meanwhile keeps its own outcome. Returns the run ids marked."""

    with control.reading() as session:
        running = session.execute(
            select(Run.run_id, Run.started_at).where(Run.status == "running")
        ).all()
    now = datetime.now(UTC)
    marked = []
    for run_id, started_at in running:
        reason = _abandoned(leases / run_id, now - aware(started_at))
        if reason is None:
            continue
        with control.transaction() as session:
            changed = session.execute(
                update(Run)
                .where(Run.run_id == run_id, Run.status == "running")
                .values(status="failed", message=reason, finished_at=now)
            )
        if getattr(changed, "rowcount", 0):
            marked.append(run_id)
    return marked


def _abandoned(lease: Path, age: timedelta) -> str | None:
    """Why the run holding ``lease`` is taken for dead; None while it may still be going."""
    if lease.exists():
        held = _lock(lease)
        if held is None:
            return None  # locked: its process is alive (or locks cannot be taken here)
        with suppress(OSError):
            lease.unlink()
        held.close()
        return (
            "abandoned: the process running it ended before it finished (a crash or a kill); "
            "it was never published"
        )
    if age > STALE_AFTER:
        hours = int(age.total_seconds() // 3600)
        return (
            f"abandoned: still running after {hours} hours with no process holding it; it "
            "was never published"
        )
    return None


def _lock(path: Path) -> IO[str] | None:
    """The file at ``path``, opened and exclusively locked without waiting; None when it is
    locked already or cannot be (a read-only workspace, a system without flock)."""
    if fcntl is None:
        return None
    try:
        path.parent.mkdir(exist_ok=True)
        handle = path.open("a", encoding="utf-8")
    except OSError:
        return None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle
