"""The control plane on SQLite (default) and on a real PostgreSQL server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from apportion.allocate import allocate_period
from apportion.ledger import ControlPlane
from tests.helpers import ingest, make_workspace, write_focus

POSTGRES_URL = os.environ.get("APPORTION_TEST_POSTGRES_URL")


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


def test_run_lifecycle(control_url: str) -> None:
    control = ControlPlane(control_url)
    control.start_run("2026-10-a", "2026-10", "hash")
    assert control.published_run("2026-10") is None
    control.finish_run("2026-10-a", "published", None, {"pools": 3})
    control.start_run("2026-10-b", "2026-10", "hash")
    control.finish_run("2026-10-b", "failed", "does not balance", None)
    published = control.published_run("2026-10")
    assert published is not None
    assert (published.run_id, published.totals) == ("2026-10-a", {"pools": 3})
    assert [run.status for run in control.runs("2026-10")] == ["published", "failed"]
    control.dispose()


def test_allocation_with_the_control_plane_on_either_database(
    control_url: str, tmp_path: Path
) -> None:
    ws = make_workspace(tmp_path / "ws", extra=f"control_plane: '{control_url}'\n")
    ingest(ws, write_focus(tmp_path / "b.csv", [{"BilledCost": "1.5"}]))
    result = allocate_period(ws, "2026-10")
    assert result.published
    assert ws.control.published_run("2026-10").run_id == result.run_id  # type: ignore[union-attr]
    ws.close()
