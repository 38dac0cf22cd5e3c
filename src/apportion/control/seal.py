"""The ledger key: the secret that seals the hash chain over closings (an HMAC), kept outside
the control-plane database it protects, so whoever can write to that database but does not
hold the key cannot rewrite a closed period and forge a chain that verifies.

Where the key is, first found wins: $APPORTION_LEDGER_KEY (the key itself, for a secret store
that injects it), $APPORTION_LEDGER_KEY_FILE (a path), else ``ledger.key`` in the workspace
folder, created (mode 0600) by the first close that needs it."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from apportion.errors import UsageError

ENV_KEY = "APPORTION_LEDGER_KEY"
ENV_KEY_FILE = "APPORTION_LEDGER_KEY_FILE"
KEY_FILE = "ledger.key"
MIN_KEY_LENGTH = 32  # characters: the key made here is 64 hex digits (256 bits)

# the seal of a closing: None for closings made before the ledger had a key (plain SHA-256)
HMAC_SHA256 = "hmac-sha256"
SEALS = (HMAC_SHA256,)


class LedgerKeyError(UsageError):
    """The ledger key is missing where it is needed, or unusable (exit code 2)."""


@dataclass(frozen=True)
class LedgerKey:
    """Where this control plane's key lives; read when needed, never stored in the database."""

    workspace_file: Path | None = None

    def where(self) -> str:
        if os.environ.get(ENV_KEY, "").strip():
            return f"${ENV_KEY}"
        path = self._path()
        return str(path) if path else f"${ENV_KEY} or ${ENV_KEY_FILE}"

    def _path(self) -> Path | None:
        named = os.environ.get(ENV_KEY_FILE, "").strip()
        return Path(named) if named else self.workspace_file

    def load(self) -> bytes | None:
        """The key, or None where none is configured or its file does not exist (yet)."""
        given = os.environ.get(ENV_KEY, "").strip()
        if given:
            return _checked(given, f"${ENV_KEY}")
        path = self._path()
        if path is None or not path.exists():
            return None
        try:
            return _checked(path.read_text("utf-8").strip(), str(path))
        except (OSError, UnicodeDecodeError) as exc:
            raise LedgerKeyError(f"cannot read the ledger key {path}: {exc}") from exc

    def load_or_create(self) -> bytes:
        """The key, made (256 random bits, mode 0600) where a workspace file is its place."""
        found = self.load()
        if found is not None:
            return found
        path = self._path()
        if path is None:
            raise LedgerKeyError(
                f"no ledger key: set ${ENV_KEY} or ${ENV_KEY_FILE} to seal closings"
            )
        made = secrets.token_hex(32)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another close made it first: use theirs
            return self.load_or_create()
        except OSError as exc:
            raise LedgerKeyError(f"cannot create the ledger key {path}: {exc}") from exc
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(made + "\n")
        return made.encode()


def _checked(text: str, where: str) -> bytes:
    if len(text) < MIN_KEY_LENGTH:
        raise LedgerKeyError(
            f"the ledger key in {where} is {len(text)} characters; it needs at least "
            f"{MIN_KEY_LENGTH} (random, e.g. `python -c 'import secrets; "
            "print(secrets.token_hex(32))'`)"
        )
    return text.encode()


def link(previous: str | None, period: str, content: str, key: bytes | None) -> str:
    """A closing's chain hash: HMAC-SHA256 with the key over the previous chain hash, the
    period and the content hash; plain SHA-256 of the same text for a closing sealed before
    the ledger had a key (key None)."""
    message = f"{previous or ''}:{period}:{content}".encode()
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
