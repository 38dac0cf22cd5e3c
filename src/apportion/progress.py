"""How long steps report what they are doing: a callback the CLI turns into a status line."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]


def quiet(_: str) -> None:
    """The default: library calls from a notebook or a test say nothing."""
