"""Exact decimal arithmetic for money.

Python's default decimal context keeps 28 significant digits, fewer than a DECIMAL(38, 18)
amount can have (10 billion with 18 places is 29 digits), so a plain ``a + b`` could round.
Every sum or scaling of amounts goes through this context.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation, localcontext

from apportion.schema.currency import minor_units
from apportion.schema.tables import MONEY_SCALE

EXACT = Context(prec=96)  # far beyond any DECIMAL(38, s) value or product of two


def exact_sum(values: Iterable[Decimal | None]) -> Decimal:
    with localcontext(EXACT):
        return sum((value for value in values if value is not None), Decimal(0))


def add(a: Decimal, b: Decimal) -> Decimal:
    return EXACT.add(a, b)


def subtract(a: Decimal, b: Decimal) -> Decimal:
    """``a - b`` exactly: ``add(a, -b)`` would round ``b`` to the default 28 digits first,
    since unary minus applies the thread's context."""
    return EXACT.subtract(a, b)


def to_minor(amount: Decimal, currency: str) -> Decimal:
    """``amount`` rounded (half to even) to the currency's minor unit: cents, yen, fils. For
    one figure shown or stored on its own; lines that must add up to a total are rounded
    together by largest remainder instead (apportion.allocate.split.round_to)."""
    unit = Decimal(1).scaleb(-minor_units(currency))
    return amount.quantize(unit, rounding=ROUND_HALF_EVEN, context=EXACT)


def to_minor_text(amount: Decimal, currency: str) -> str:
    """``amount`` rounded as :func:`to_minor` does, as plain text: 12.35, 1234 (yen); no
    thousands separators, never in exponent form."""
    return f"{to_minor(amount, currency):f}"


def ratio(amount: Decimal | None, over: Decimal | None) -> Decimal | None:
    """``amount / over`` exactly (to the context's 96 digits); None when either is missing or
    ``over`` is zero: a share of nothing is no number."""
    if amount is None or not over:
        return None
    return EXACT.divide(amount, over)


def to_units(amount: Decimal, scale: int = MONEY_SCALE) -> int:
    """The amount as an integer number of 10^-scale units; refuses to round."""
    scaled = EXACT.scaleb(amount, scale)
    units = int(scaled)
    if scaled != units:
        raise ValueError(f"{amount} has more than {scale} decimal places")
    return units


def from_units(units: int, scale: int = MONEY_SCALE) -> Decimal:
    return EXACT.scaleb(Decimal(units), -scale)


def rounded_text(value: Decimal, places: int = MONEY_SCALE) -> str:
    """A number rounded half to even to the places an engine column keeps, as text: for the
    float noise some exports write (0.00030849999999999996). Rounding never fails; a value
    too large for the column stays too large and is quarantined when it is parsed."""
    if not value.is_finite():
        return str(value)
    try:
        return format(EXACT.quantize(value, Decimal(1).scaleb(-places)), "f")
    except InvalidOperation:  # more digits than even EXACT keeps: far past any column
        return str(value)


def plain(amount: Decimal) -> str:
    """An exact amount as people read it, without trailing zeros: 12.500000000000000000 ->
    12.5, and never in exponent form."""
    return format(EXACT.normalize(amount), "f") if amount else "0"


def at_least(amount: Decimal, places: int, grouped: bool = False) -> str:
    """Every digit the amount has, and at least ``places`` decimals (a currency's minor unit):
    6145.000000000000000000 -> 6145.00, 1042.170280556 stays. Never rounds."""
    exponent = amount.normalize().as_tuple().exponent
    shown = max(places, -exponent if isinstance(exponent, int) else 0)
    return f"{amount:{',' if grouped else ''}.{shown}f}"
