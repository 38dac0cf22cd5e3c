"""A short list shown as a table the reader can sort and search: done on the server from the
query string (links work without scripts; htmx only swaps the table in place)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any


@dataclass
class Table:
    rows: list[dict[str, Any]]
    columns: Sequence[str]
    numeric: Sequence[str] = ()
    sort: str = ""
    descending: bool = False
    search: str = ""
    shown: list[dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        if self.sort not in self.columns:
            self.sort = ""  # an unknown column sorts nothing rather than failing the page
        needle = self.search.strip().lower()
        found = [
            row
            for row in self.rows
            if not needle or any(needle in str(row.get(c) or "").lower() for c in self.columns)
        ]
        if self.sort:
            # rows without a value go last whichever way the rest are sorted
            empty = [row for row in found if row.get(self.sort) in (None, "")]
            valued = [row for row in found if row.get(self.sort) not in (None, "")]
            valued.sort(key=self._key, reverse=self.descending)
            found = valued + empty
        self.shown = found

    def _key(self, row: dict[str, Any]) -> Any:
        value = row[self.sort]
        if self.sort in self.numeric:
            try:
                return Decimal(str(value))
            except InvalidOperation:
                return Decimal(0)
        return str(value).lower()

    def next_order(self, column: str) -> bool:
        """Whether the column's header link sorts descending: a second click reverses."""
        return column == self.sort and not self.descending
