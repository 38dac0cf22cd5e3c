"""JSON bodies read exactly: a JSON number with a fraction or an exponent becomes a Decimal
from its own text, never a float, so 1234567.123456789012345678 in a dispute, a commitment,
a forecast or business metrics arrives with every digit. NaN, Infinity and numbers whose
exponent is far beyond money (1e99999999) are refused with a 422 that says so, before any
model sees them (writing such a number out in full would take gigabytes)."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute

# DECIMAL(38, 18) is the widest money we keep; a little room either side for quantities
MAX_EXPONENT = 60
MAX_INT_DIGITS = 60


def exact_json(body: bytes) -> Any:
    """The body as JSON, numbers with a fraction or an exponent as Decimals."""
    return json.loads(body, parse_float=_decimal, parse_int=_integer, parse_constant=_constant)


def _decimal(text: str) -> Decimal:
    value = Decimal(text)
    if abs(value.adjusted()) > MAX_EXPONENT:
        raise HTTPException(422, f"the JSON number {text[:40]} is out of range for an amount")
    return value


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise HTTPException(422, f"the JSON number {text[:40]}... has too many digits")
    return int(text)


def _constant(text: str) -> Any:
    raise HTTPException(422, f"{text} is not a number JSON allows; send a finite amount")


class ExactJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = exact_json(await self.body())
        return self._json


class ExactJSONRoute(APIRoute):
    """A route whose JSON body is read by :func:`exact_json`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def exact(request: Request) -> Response:
            return await handler(ExactJSONRequest(request.scope, request.receive))

        return exact
