"""The API tests' server: the organisation of tests/api/cases.py allocated once per session
into a template workspace; each test gets a copy (its own control plane and data), a test
client over it, and a token per role."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from apportion.access import tokens
from apportion.server import create_app
from apportion.workspace import Workspace
from tests.api.cases import PERIOD, RULES, write_bill, write_driver_rows
from tests.helpers import allocate, ingest, make_workspace


@pytest.fixture(autouse=True)
def _duckdb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPORTION_ENGINE_TYPE", "duckdb")
    monkeypatch.delenv("APPORTION_CONTROL_PLANE", raising=False)


@pytest.fixture(scope="session")
def allocated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("api")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("APPORTION_ENGINE_TYPE", "duckdb")
        patch.delenv("APPORTION_CONTROL_PLANE", raising=False)
        workspace = make_workspace(root / "ws", RULES)
        ingest(workspace, write_bill(root / "bill.csv"), write_driver_rows(root / "d.csv"))
        allocate(workspace, PERIOD)
        workspace.close()
    return root / "ws"


@dataclass
class Server:
    client: TestClient
    workspace: Workspace  # the same folder the server reads, for setting things up
    tokens: dict[str, str]  # role name -> token

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who in self.tokens else {}

    def login(self, token: str, next: str | None = None, **headers: str) -> Any:
        """Sign in through the form as a browser would: fetch it (its CSRF cookie and field),
        then post it; the redirect is returned, not followed."""
        form = self.client.get("/login", headers=headers).text
        nonce = re.search(r'name="login_csrf" value="([^"]+)"', form)
        assert nonce, "the sign-in form carries its CSRF token"
        data = {"token": token, "login_csrf": nonce.group(1), **({"next": next} if next else {})}
        return self.client.post("/login", data=data, headers=headers, follow_redirects=False)

    def get(self, who: str, url: str, **params: object) -> Any:
        return self.client.get(url, headers=self.headers(who), params=params or None)


WHO = {
    "admin": ("admin", []),
    "analyst": ("analyst", []),
    "cx": ("consumer", ["cx"]),
    "ops": ("consumer", ["ops"]),
}


@contextmanager
def serving(allocated: Path, root: Path) -> Iterator[Server]:
    """A server over a copy of the allocated workspace, with a token per role."""
    shutil.copytree(allocated, root)
    workspace = Workspace.open(root)
    made = {
        who: tokens.create(workspace.control, who, role, granted, "test")
        for who, (role, granted) in WHO.items()
    }
    made["revoked"] = tokens.create(workspace.control, "revoked", "admin", [], "test")
    tokens.revoke(workspace.control, "revoked", "test")
    made["unknown"] = "apt_" + "x" * 43
    try:
        with TestClient(create_app(root)) as client:
            yield Server(client, workspace, made)
    finally:
        workspace.close()


@pytest.fixture
def server(allocated: Path, tmp_path: Path) -> Iterator[Server]:
    """A server of the test's own: it may change state."""
    with serving(allocated, tmp_path / "ws") as found:
        yield found


@pytest.fixture(scope="module")
def reader(allocated: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server the module's tests share: they only read."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("APPORTION_ENGINE_TYPE", "duckdb")
        patch.delenv("APPORTION_CONTROL_PLANE", raising=False)
        with serving(allocated, tmp_path_factory.mktemp("reader") / "ws") as found:
            yield found
