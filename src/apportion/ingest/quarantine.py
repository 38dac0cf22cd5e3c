"""Quarantined rows: what was refused, where it was in the file, and why."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from apportion.schema import tables as t


def quarantine_rows(
    bad: ir.Table,
    *,
    kind: str,
    source: str,
    file_hash: str,
    file_name: str,
    period: ir.StringValue,
    currency: ir.Value | None = None,
    cost_text: ir.Value | None = None,
) -> ir.Table:
    """Rows of ``bad`` (which carries ``x_RowNumber`` and ``_reason``) in the quarantine
    table's shape; ``cost_text`` keeps the BilledCost cell as written so the refused cost
    still shows in reports."""
    return bad.select(
        **{
            t.SOURCE: ibis.literal(source),
            t.FILE_HASH: ibis.literal(file_hash),
            "file": ibis.literal(file_name),
            "kind": ibis.literal(kind),
            "line": bad[t.ROW_NUMBER],
            "reason": bad._reason,
            t.BILLING_PERIOD: period,
            "currency": currency if currency is not None else ibis.null("string"),
            "cost_text": cost_text if cost_text is not None else ibis.null("string"),
        }
    )
