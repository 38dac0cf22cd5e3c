"""Rendering pages: one Jinja2 environment (autoescaped), the money filters the printable
statements use, and what every page's layout needs (the caller, the CSRF token, the link to
its JSON twin)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from apportion.access import Caller
from apportion.ledger.render import grouped_text, signed
from apportion.money import at_least
from apportion.schema.currency import minor_units

ENVIRONMENT = Environment(
    loader=PackageLoader("apportion.web", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _money(amount: str | Decimal | None, currency: str) -> str:
    """Money as the statements show it, at the currency's minor unit; amounts here are the
    statements' own, already rounded there, so this never rounds them differently."""
    if amount is None or amount == "":
        return ""
    return grouped_text(Decimal(amount), currency)


def _signed(amount: str | Decimal | None, currency: str) -> str:
    if amount is None or amount == "":
        return ""
    return signed(Decimal(amount), currency)


def _exact(amount: str | Decimal | None, currency: str | None = None) -> str:
    """An exact amount (an allocation, a bill line) with every digit it has and no trailing
    zeros beyond the currency's minor unit: 6,145.00 or 1,042.170280556476413336. Nothing is
    rounded; a quantity (no currency) keeps the digits it has: 10, 6724.632."""
    if amount is None or amount == "":
        return ""
    return at_least(Decimal(amount), minor_units(currency) if currency else 0, grouped=True)


def _merge(params: dict[str, Any], **more: Any) -> dict[str, Any]:
    """A page's query parameters with some replaced (a pager's offset, a header's sort)."""
    merged = {**params, **more}
    return {key: value for key, value in merged.items() if value not in (None, "")}


ENVIRONMENT.filters["merge"] = _merge
ENVIRONMENT.filters["exact"] = _exact
ENVIRONMENT.filters["money"] = _money
ENVIRONMENT.filters["signed"] = _signed


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    caller: Caller | None,
    twin: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    found = getattr(request.state, "authenticated", None)
    page = ENVIRONMENT.get_template(template).render(
        request=request,
        caller=caller,
        csrf=found.csrf if found else None,
        twin=twin,
        **context,
    )
    return HTMLResponse(page, status_code=status)
