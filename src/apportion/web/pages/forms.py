"""Reading what forms send."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from fastapi import HTTPException


def amount(text: str, field: str) -> Decimal | None:
    """A form's amount: blank is none; anything but a number is the form's mistake (422)."""
    if not text.strip():
        return None
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        raise HTTPException(422, f"{field}: {text!r} is not an amount") from None
    if not value.is_finite():
        raise HTTPException(422, f"{field}: {text!r} is not an amount")
    return value
