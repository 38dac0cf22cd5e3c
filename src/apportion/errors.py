"""The errors apportion raises on purpose, in one hierarchy at the bottom of the layers, so the
CLI and the API turn each into one clear line (or one HTTP answer) by its branch alone:

- ``UsageError``: bad input or usage; running it again unchanged fails again. Exit code 2;
  HTTP 422, or 404 for ``NotFoundError`` and 409 for ``RefusedError`` (sound on its own, but
  the ledger's state refuses it: a closed period, a dispute already settled).
- ``WorkError``: the work failed for a reason outside the input (someone else changed the
  same period first, the engine is busy, a provider's API is down, a run did not add up).
  Exit code 1; HTTP 409, or 503 for ``BusyError``.

Each module declares its own errors as subclasses of one of these, beside the code that raises
them. The built-in base each had before (``ValueError``, ``LookupError``, ``RuntimeError``) is
kept as a second base, so ``except ValueError`` around library calls still holds.
"""

from __future__ import annotations

from typing import ClassVar


class ApportionError(Exception):
    """Every error apportion raises on purpose; anything else reaching the CLI is a bug."""

    exit_code: ClassVar[int] = 1


class UsageError(ApportionError, ValueError):
    """Bad input or usage: the message says what to change."""

    exit_code = 2


class NotFoundError(UsageError, LookupError):
    """What was asked for does not exist (or is not the caller's to see)."""


class RefusedError(UsageError):
    """The request is well formed, but the ledger's state refuses it."""


class WorkError(ApportionError, RuntimeError):
    """The work could not be done now; the input may be fine and a retry may succeed."""

    exit_code = 1


class BusyError(WorkError):
    """Another process holds what this one needs: try again shortly."""
