"""The one CSV writer of every export meant for a spreadsheet or an ERP: the journal, statements,
every ``--format csv`` report, the API's bill-line export and the FOCUS CSV export.

Text in those files comes from users (tags, descriptions, names of cost centres), and a
spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or a carriage
return before one) as a formula: ``=HYPERLINK("http://x","y")`` in a tag would become a live
link (CSV injection, OWASP). So such a cell is written with a leading apostrophe, which
spreadsheets show as text and do not run. A number stays a number: ``-12.34`` or ``+1E-7`` is
written as is, so money columns remain numeric and sum to the cent. Values that are not text
(Decimal, int, None) are never touched.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# a plain decimal number (or percent), what our own money, quantity and percent columns hold as
# text, and a lone "-" (a report's "nothing to show"): nothing follows them to run. Anything
# else that starts like a formula (-1+2, -inf, +cmd|...) is guarded
_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?%?|-"
_NUMBER_RE = re.compile(_NUMBER)
_FORMULA_PATTERN = "^[=+\\-@\t\r]"
GUARD = "'"


def guard_cell(value: Any) -> Any:
    """The value a spreadsheet shows as written: text that would start a formula gets a
    leading apostrophe; numbers and non-text values are returned unchanged."""
    risky = isinstance(value, str) and value.startswith(FORMULA_STARTS)
    if risky and not _NUMBER_RE.fullmatch(value):
        return GUARD + value
    return value


def guard_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {key: guard_cell(value) for key, value in row.items()}


def csv_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """CSV with a header (``columns``, else the first row's keys), every cell guarded."""
    names = list(columns) if columns is not None else list(rows[0]) if rows else []
    buffer = io.StringIO()
    write_rows(buffer, rows, names)
    return buffer.getvalue()


def write_rows(handle: Any, rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """A header and the rows to an open text handle, every cell guarded."""
    writer = csv.DictWriter(handle, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(guard_row(row) for row in rows)


def guard_table(table: pa.Table) -> pa.Table:
    """The same guard over an Arrow table's text columns, column at a time (the FOCUS export
    writes millions of cells); other columns are returned as they are."""
    for index, field in enumerate(table.schema):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            table = table.set_column(index, field, _guard_column(table.column(index)))
    return table


def _guard_column(column: pa.ChunkedArray) -> pa.ChunkedArray:
    starts = pc.match_substring_regex(column, _FORMULA_PATTERN)
    if not pc.any(starts).as_py():  # most columns: nothing to look at twice
        return column
    number = pc.match_substring_regex(column, f"^(?:{_NUMBER})$")
    risky = pc.and_(starts, pc.invert(number))
    if not pc.any(risky).as_py():
        return column
    guarded = pc.binary_join_element_wise(pa.scalar(GUARD, column.type), column, "")
    return pc.if_else(risky, guarded, column)
