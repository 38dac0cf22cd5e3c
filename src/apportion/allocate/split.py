"""Exact splitting of an amount by weights: the largest-remainder method in integers.

Amounts are exact decimals with at most ``MONEY_SCALE`` places, so in units of 10^-scale they
are integers; each part is floor(units * w / W) and the few units left over go to the largest
remainders (ties to the earlier target, and targets are sorted, so the result never depends on
input order). The parts always sum to the amount exactly, for any sign.

:func:`split` is the one-pool statement of the method; runs use the columnar
:mod:`apportion.allocate.batch`, which the tests hold to exactly the same results.
:func:`round_to_total` rounds statement lines once, the same way, to minor units.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal, localcontext
from fractions import Fraction

from apportion.money import EXACT, from_units, to_units
from apportion.schema.tables import MONEY_SCALE


def integer_weights(weights: Sequence[Decimal]) -> list[int]:
    """Weights as integers in the same proportion (scaled by the most decimal places)."""
    places = max((max(0, -int(w.as_tuple().exponent)) for w in weights), default=0)
    return [to_units(w, places) for w in weights]


def split_units(units: int, weights: Sequence[int]) -> list[int]:
    total = sum(weights)
    if total <= 0 or any(w < 0 for w in weights):
        raise ValueError("weights must be non-negative with a positive total")
    parts = [units * w // total for w in weights]
    remainders = [units * w - part * total for part, w in zip(parts, weights, strict=True)]
    leftover = units - sum(parts)  # 0 <= leftover < len(weights) because floor rounds down
    for index in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:leftover]:
        parts[index] += 1
    return parts


def split(amount: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    parts = split_units(to_units(amount), integer_weights(weights))
    return [from_units(part) for part in parts]


def round_to_total(amounts: Sequence[Decimal], places: int) -> list[Decimal]:
    """Round each amount to ``places`` so the rounded amounts sum to the rounded total
    (largest remainder, rounding the total half-even)."""
    with localcontext(EXACT):
        total = sum(amounts, Decimal(0)).quantize(Decimal(1).scaleb(-places))
    return round_to(amounts, places, total)


def round_to(amounts: Sequence[Decimal], places: int, total: Decimal) -> list[Decimal]:
    """Round each amount to ``places`` so the rounded amounts sum to ``total`` exactly: a
    breakdown of a figure the statements already rounded (a use case's cost by model, whose
    category total is the sum of its rounded statement lines). Largest remainder; a total
    further from the exact sum than one unit per amount moves every amount alike first."""
    if not amounts:
        return []
    with localcontext(EXACT):
        units = [to_units(a, MONEY_SCALE) for a in amounts]
        step = 10 ** (MONEY_SCALE - places)
        floors = [u // step for u in units]
        remainders = [Fraction(u - f * step) for u, f in zip(units, floors, strict=True)]
        return _to_total(floors, remainders, places, total)


def round_shares(shares: Sequence[Fraction], places: int, total: Decimal) -> list[Decimal]:
    """Exact rational amounts (a bill line's part of a statement line, through every split
    on its way) rounded to ``places`` so they sum to ``total``, as :func:`round_to` does."""
    if not shares:
        return []
    scale = 10**places
    floors = [math.floor(share * scale) for share in shares]
    remainders = [share * scale - f for share, f in zip(shares, floors, strict=True)]
    return _to_total(floors, remainders, places, total)


def _to_total(
    floors: list[int], remainders: list[Fraction], places: int, total: Decimal
) -> list[Decimal]:
    """Units of 10^-places that sum to ``total``: the floors, the leftover units to the
    largest remainders (the earlier on ties)."""
    leftover = to_units(total, places) - sum(floors)
    every, leftover = divmod(leftover, len(floors))
    floors = [f + every for f in floors]
    for index in sorted(range(len(floors)), key=lambda i: (-remainders[i], i))[:leftover]:
        floors[index] += 1
    return [from_units(f, places) for f in floors]
