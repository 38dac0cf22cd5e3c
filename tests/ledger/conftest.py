"""Fixtures of the ledger tests: every control plane test runs on SQLite and on a real
PostgreSQL server (APPORTION_TEST_POSTGRES_URL, each test in a schema of its own), with the
data plane on DuckDB. The FOCUS files are ingested once per session into a template workspace,
which each test copies, so a test pays for allocation but not for ingestion."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from apportion.workspace import Workspace
from tests.helpers import ingest, make_workspace
from tests.ledger.cases import RULES, write_nov, write_oct

POSTGRES_URL = os.environ.get("APPORTION_TEST_POSTGRES_URL")


@pytest.fixture(autouse=True)
def _duckdb_and_the_configured_control_plane(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ledger tests use small FOCUS files on DuckDB (those that take the `engine` fixture,
    which sets the engine after this, run on each engine), and the control plane their
    apportion.yaml names (not one from the environment)."""
    monkeypatch.setenv("APPORTION_ENGINE_TYPE", "duckdb")
    monkeypatch.delenv("APPORTION_CONTROL_PLANE", raising=False)


def _postgres_schema_url(schema: str) -> str:
    """A URL whose connections use a fresh schema, so runs do not see each other."""
    assert POSTGRES_URL
    url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return str(url.update_query_dict({"options": f"-csearch_path={schema}"}))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def control_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'control.sqlite'}"
        return
    if not POSTGRES_URL:
        pytest.skip("APPORTION_TEST_POSTGRES_URL is not set")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    yield _postgres_schema_url(schema)
    engine = create_engine(make_url(POSTGRES_URL).set(drivername="postgresql+psycopg"))
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture(scope="session")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data plane holding oct.csv (source oct, 2026-10) and nov.csv (source nov, 2026-11)."""
    root = tmp_path_factory.mktemp("ingested")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("APPORTION_ENGINE_TYPE", "duckdb")
        patch.delenv("APPORTION_CONTROL_PLANE", raising=False)
        scratch = f"control_plane: 'sqlite:///{root / 'scratch.sqlite'}'\n"
        workspace = make_workspace(root / "ws", RULES, extra=scratch)
        ingest(workspace, write_oct(root / "oct.csv"), write_nov(root / "nov.csv"))
        workspace.close()
    (root / "ws" / "apportion.yaml").unlink()
    return root / "ws"


@pytest.fixture
def ws(ingested: Path, tmp_path: Path, control_url: str) -> Iterator[Workspace]:
    """A workspace with both months ingested and nothing allocated, on a fresh control plane."""
    root = tmp_path / "ws"
    shutil.copytree(ingested, root)
    workspace = make_workspace(root, RULES, extra=f"control_plane: '{control_url}'\n")
    yield workspace
    workspace.close()
