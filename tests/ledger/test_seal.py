"""The ledger key: kept outside the control-plane database, made owner-only where the
workspace keeps it, overridable from the environment, and refused when too short to be a
secret."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from apportion.control.seal import ENV_KEY, ENV_KEY_FILE, LedgerKey, LedgerKeyError, link


@pytest.fixture(autouse=True)
def _no_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_KEY, raising=False)
    monkeypatch.delenv(ENV_KEY_FILE, raising=False)


def test_the_workspace_key_is_made_once_owner_only(tmp_path: Path) -> None:
    key = LedgerKey(tmp_path / "ledger.key")
    assert key.load() is None  # reading never makes one
    assert not (tmp_path / "ledger.key").exists()
    made = key.load_or_create()
    assert len(made) == 64 and stat.S_IMODE((tmp_path / "ledger.key").stat().st_mode) == 0o600
    assert key.load_or_create() == key.load() == made


def test_the_environment_names_the_key_or_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = LedgerKey(tmp_path / "ledger.key")
    kept = tmp_path / "vault" / "apportion.key"
    kept.parent.mkdir()
    kept.write_text("k" * 40 + "\n")
    monkeypatch.setenv(ENV_KEY_FILE, str(kept))
    assert workspace.load_or_create() == b"k" * 40
    monkeypatch.setenv(ENV_KEY, "s" * 32)
    assert workspace.load() == b"s" * 32 and workspace.where() == f"${ENV_KEY}"
    assert not (tmp_path / "ledger.key").exists()


def test_a_short_key_is_refused_and_no_key_without_a_place_for_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_KEY, "secret")
    with pytest.raises(LedgerKeyError, match="is 6 characters; it needs at least 32"):
        LedgerKey().load()
    monkeypatch.delenv(ENV_KEY)
    with pytest.raises(LedgerKeyError, match="no ledger key"):
        LedgerKey().load_or_create()


def test_a_keyed_link_differs_from_the_plain_one_and_from_another_keys() -> None:
    plain = link(None, "2026-10", "c" * 64, None)
    assert len(plain) == 64
    assert link(None, "2026-10", "c" * 64, b"a" * 32) not in (
        plain,
        link(None, "2026-10", "c" * 64, b"b" * 32),
    )
