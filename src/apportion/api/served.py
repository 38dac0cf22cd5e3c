"""The workspace a server reads: one control plane for every request (SQLAlchemy pools its
connections), and a data-plane connection per worker thread. DuckDB shares one database between
the connections of a process, so requests read side by side, and beside an allocation running
in another thread, without waiting for each other."""

from __future__ import annotations

import threading
from pathlib import Path

from apportion.config import load_config
from apportion.engine import DataPlane, open_dataplane
from apportion.workspace import Workspace


class ServedWorkspace(Workspace):
    def __init__(self, root: Path) -> None:
        super().__init__(root, load_config(root))
        self._local = threading.local()
        self._planes: list[DataPlane] = []
        self._lock = threading.Lock()

    @property  # type: ignore[override]
    def data(self) -> DataPlane:
        plane: DataPlane | None = getattr(self._local, "plane", None)
        if plane is None:
            plane = open_dataplane(self.config.engine, self.root)
            plane.ensure_tables()
            self._local.plane = plane
            with self._lock:
                self._planes.append(plane)
        return plane

    def close(self) -> None:
        with self._lock:
            for plane in self._planes:
                plane.close()
            self._planes.clear()
        if "control" in self.__dict__:
            self.control.dispose()
