"""Which staged column plays which part: each header is given a role (or none, and is
ignored), and two columns claiming one role make the file ambiguous."""

from __future__ import annotations

from collections.abc import Callable

from apportion.engine.dataplane import FileError


def by_role(
    headers: dict[str, str], role_of: Callable[[str], str | None], file_name: str
) -> tuple[dict[str, str], list[str]]:
    """Role -> staged column, and the headers no role took."""
    columns: dict[str, str] = {}
    ignored: list[str] = []
    for column, header in headers.items():
        role = role_of(header)
        if role is None:
            ignored.append(header)
        elif role in columns:
            raise FileError(f"{file_name}: more than one column gives {role.removeprefix('dim:')}")
        else:
            columns[role] = column
    return columns, ignored
