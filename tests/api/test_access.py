"""Tokens (hashed at rest, shown once, revocable), browser sessions with CSRF protection, and
limits on what a request may send."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from apportion.access import AccessError, tokens
from apportion.cli import app
from apportion.control.audit import entries
from apportion.control.models import ApiToken
from tests.api.conftest import Server
from tests.api.ids import BASE, look_up


def test_tokens_are_kept_as_hashes_and_shown_once(server: Server) -> None:
    control = server.workspace.control
    secret = tokens.create(control, "carol", "consumer", ["cx"], "alice")
    assert secret.startswith("apt_") and len(secret) > 40
    with control.reading() as session:
        stored = session.scalars(select(ApiToken).where(ApiToken.name == "carol")).one()
    assert stored.secret_hash == tokens.digest(secret) != secret
    listed = {t.name: t for t in tokens.list_tokens(control)}["carol"]
    assert (listed.role, listed.cost_centres, listed.created_by) == ("consumer", ["cx"], "alice")
    assert secret not in str(listed.as_dict())
    assert [e.action for e in entries(control) if e.subject == "token carol"] == ["token.create"]


@pytest.mark.parametrize(
    ("role", "granted", "message"),
    [
        ("consumer", [], "needs at least one --cost-centre"),
        ("analyst", ["cx"], "sees every cost centre"),
        ("owner", [], "unknown role 'owner'"),
    ],
)
def test_token_requests_that_make_no_sense_are_refused(
    server: Server, role: str, granted: list[str], message: str
) -> None:
    with pytest.raises(AccessError, match=message):
        tokens.create(server.workspace.control, "x", role, granted, "alice")


def test_a_revoked_token_stops_working_and_so_do_its_sessions(server: Server) -> None:
    control = server.workspace.control
    secret = tokens.create(control, "dave", "analyst", [], "alice")
    bearer = {"Authorization": f"Bearer {secret}"}
    assert server.client.get("/api/v1/me", headers=bearer).status_code == 200
    signed_in = server.login(secret)
    assert signed_in.status_code == 303
    assert server.client.get("/api/v1/me").json()["name"] == "dave"  # by cookie
    tokens.revoke(control, "dave", "alice")
    assert server.client.get("/api/v1/me", headers=bearer).status_code == 401
    assert server.client.get("/api/v1/me").status_code == 401
    with pytest.raises(AccessError, match="revoked already"):
        tokens.revoke(control, "dave", "alice")


def test_a_session_cookie_is_http_only_and_changes_need_the_csrf_token(server: Server) -> None:
    signed_in = server.login(server.tokens["cx"])
    cookie = signed_in.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    url = look_up(server).url("{base}/lines/{line_cx_gpu}/disputes")
    body = {"reason": "not ours"}
    refused = server.client.post(url, json=body)
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    for sent in (b"0" * 64, "\xe9t\xe9".encode("latin-1")):  # wrong; not ASCII: no crash
        wrong = server.client.post(url, json=body, headers={"X-CSRF-Token": sent})
        assert wrong.status_code == 403
    token = server.client.get("/api/v1/me").json()["csrf_token"]
    assert server.client.post(url, json=body, headers={"X-CSRF-Token": token}).status_code == 201


def test_a_sign_in_posted_from_elsewhere_is_refused(server: Server) -> None:
    """Login CSRF: a form on another site cannot sign a visitor in with someone's token."""
    forged = server.client.post(
        "/login", data={"token": server.tokens["cx"]}, follow_redirects=False
    )
    assert forged.status_code == 403
    assert (
        "set-cookie" not in forged.headers
        or "apportion_session" not in forged.headers["set-cookie"]
    )
    assert server.client.get("/api/v1/me").status_code == 401


def test_over_https_the_cookie_is_secure(server: Server) -> None:
    signed_in = server.login(server.tokens["cx"], **{"X-Forwarded-Proto": "https"})
    assert "Secure" in signed_in.headers["set-cookie"]


def test_a_wrong_token_at_sign_in_is_401_and_opens_nothing(server: Server) -> None:
    answer = server.login("apt_nope")
    assert answer.status_code == 401
    assert "apportion_session" not in answer.headers.get("set-cookie", "")
    assert "unknown or revoked token" in answer.text


def test_bodies_over_the_limit_are_413(server: Server) -> None:
    url = look_up(server).url("{base}/lines/{line_cx_gpu}/disputes")
    huge = b'{"reason": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    headers = {**server.headers("cx"), "Content-Type": "application/json"}
    assert server.client.post(url, content=huge, headers=headers).status_code == 413

    def chunks():  # no Content-Length: counted as it streams
        yield b'{"reason": "'
        for _ in range(64):
            yield b"x" * 65536
        yield b'"}'

    streamed = server.client.post(url, content=chunks(), headers=headers)
    assert streamed.status_code == 413


def test_every_change_through_the_api_is_in_the_audit_log(server: Server) -> None:
    ids = look_up(server)
    opened = server.client.post(
        ids.url("{base}/lines/{line_cx_gpu}/disputes"),
        headers=server.headers("cx"),
        json={"reason": "not ours"},
    )
    number = opened.json()["id"]
    server.client.post(
        f"/api/v1/disputes/{number}/review", headers=server.headers("admin"), json={}
    )
    server.client.post(f"{BASE}/review", headers=server.headers("admin"), json={})
    log = [(e.actor, e.action) for e in entries(server.workspace.control)]
    assert ("token:cx", "dispute.open") in log
    assert ("token:admin", "dispute.under_review") in log
    assert ("token:admin", "period.in_review") in log


def test_token_commands(tmp_path: Path, allocated: Path) -> None:
    import shutil

    root = tmp_path / "ws"
    shutil.copytree(allocated, root)
    runner = CliRunner()
    made = runner.invoke(
        app, ["-w", str(root), "token", "create", "--role", "consumer", "--cost-centre", "cx"]
    )
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    assert secret.startswith("apt_")
    listed = runner.invoke(app, ["-w", str(root), "token", "list", "--format", "json"])
    [token] = [t for t in __import__("json").loads(listed.stdout) if t["role"] == "consumer"]
    assert token["cost_centres"] == ["cx"]
    assert secret not in listed.stdout
    bad = runner.invoke(app, ["-w", str(root), "token", "create", "--role", "consumer"])
    assert bad.exit_code == 2
    assert "needs at least one --cost-centre" in bad.output
    revoked = runner.invoke(app, ["-w", str(root), "token", "revoke", token["name"]])
    assert revoked.exit_code == 0
