"""CSV exports of what the API lists."""

from __future__ import annotations

from typing import Any

from fastapi.responses import PlainTextResponse

from apportion.csvfile import csv_text


def bill_lines_csv(listing: dict[str, Any]) -> PlainTextResponse:
    """Every matching bill line, cells guarded against spreadsheet formulas (apportion.csvfile)."""
    name = f"bill-lines-{listing['period']}.csv"
    return PlainTextResponse(
        csv_text(listing["rows"], listing["columns"]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
