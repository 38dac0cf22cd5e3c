"""Statements as a printable, self-contained HTML page (no scripts, fonts or stylesheets from
elsewhere: it can be mailed, archived or printed to PDF as it is)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from jinja2 import Environment, PackageLoader, select_autoescape

from apportion.ledger.statement import Statement
from apportion.schema.currency import minor_units

_ENVIRONMENT = Environment(
    loader=PackageLoader("apportion.ledger", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def grouped_text(amount: Decimal, currency: str) -> str:
    """Grouped thousands at the currency's minor unit: 12,345.60 (statements are rounded
    there already, so this never rounds)."""
    places = minor_units(currency)
    return f"{amount:,.{places}f}"


def signed(amount: Decimal, currency: str) -> str:
    return ("+" if amount > 0 else "") + grouped_text(amount, currency)


_ENVIRONMENT.filters["money"] = grouped_text
_ENVIRONMENT.filters["signed"] = signed


def statements_html(statements: Sequence[Statement]) -> str:
    """One page; each payer's statement starts a new printed page."""
    if not statements:
        raise ValueError("no statements to render")
    return _ENVIRONMENT.get_template("statement.html").render(statements=statements)
