"""Whole columns of exact integers to Arrow decimals and back, without Decimal objects."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from apportion.allocate.arrow_decimal import decimals, units

digits38 = st.integers(-(10**38) + 1, 10**38 - 1)


@given(st.lists(digits38, max_size=50))
def test_integers_go_to_decimals_and_back_exactly(values: list[int]) -> None:
    column = decimals(np.array(values, dtype=object), 18)
    assert units(column, 18).tolist() == values
    assert column.to_pylist() == [Decimal(f"{v}e-18") for v in values]


def test_an_amount_beyond_38_digits_is_refused() -> None:
    with pytest.raises(OverflowError):
        decimals(np.array([10**38], dtype=object), 18)
    with pytest.raises(OverflowError):
        decimals(np.array([-(10**38)], dtype=object), 18)
