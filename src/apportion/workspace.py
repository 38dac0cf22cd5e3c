"""A workspace is one folder: apportion.yaml, the data-plane file, the control-plane database
and raw/, where every ingested file is kept by content hash."""

from __future__ import annotations

import os
from functools import cached_property
from importlib import resources
from pathlib import Path

from sqlalchemy.engine import make_url

from apportion.config import Config, load_config, parse_config
from apportion.config.loader import CONFIG_FILE
from apportion.engine import DataPlane, open_dataplane
from apportion.ledger import ControlPlane

ENV_WORKSPACE = "APPORTION_WORKSPACE"


class WorkspaceError(ValueError):
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
        return ControlPlane(self._control_url())

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
