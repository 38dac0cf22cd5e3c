"""CSV exports of what the API lists."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.responses import PlainTextResponse


def bill_lines_csv(listing: dict[str, Any]) -> PlainTextResponse:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=listing["columns"], lineterminator="\n")
    writer.writeheader()
    for row in listing["rows"]:
        writer.writerow({key: _cell(value) for key, value in row.items()})
    name = f"bill-lines-{listing['period']}.csv"
    return PlainTextResponse(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text: one starting with = + - @ would be run as a formula
    (CSV injection), so it gets a leading apostrophe. Numbers stay numbers."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value
