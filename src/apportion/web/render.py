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
from apportion.ledger.render import money, signed

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
    return money(Decimal(amount), currency)


def _signed(amount: str | Decimal | None, currency: str) -> str:
    if amount is None or amount == "":
        return ""
    return signed(Decimal(amount), currency)


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
