"""Exact conversion between Arrow decimal128 columns and Python integers (unscaled units).

Going through ``Decimal`` objects costs a microsecond a value; a decimal128 value is a 128-bit
two's-complement integer in the column's buffer, so whole columns convert with numpy instead.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

_TWO_64 = 1 << 64

IntArray = npt.NDArray[np.object_]  # Python ints, unbounded


def units(column: pa.Array | pa.ChunkedArray, scale: int) -> IntArray:
    """The column's values as integers of 10^-scale (nulls as 0), rescaled exactly."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks else pa.array([], column.type)
    kind = column.type
    if not pa.types.is_decimal128(kind):
        raise TypeError(f"expected a decimal128 column, got {kind}")
    column = pc.fill_null(column, pa.scalar(0, kind)) if column.null_count else column
    words = np.frombuffer(column.buffers()[1], dtype="<u8")
    offset = column.offset * 2
    words = words[offset : offset + 2 * len(column)]
    low = words[0::2].astype(object)
    high = words[1::2].view("<i8").astype(object)
    values: IntArray = high * _TWO_64 + low
    shift = scale - kind.scale
    if shift > 0:
        values = values * (10**shift)
    elif shift < 0:
        raise ValueError(f"{kind} has more places than {scale}")
    return values


def decimals(values: IntArray, scale: int) -> pa.Array:
    """Integers of 10^-scale as a decimal128(38, scale) column."""
    count = len(values)
    limit = 10**38  # DECIMAL(38, s) holds fewer than 38 digits
    if count and (values.max() >= limit or values.min() <= -limit):
        raise OverflowError("an amount does not fit DECIMAL(38)")
    # two's complement limbs: shifting and masking a Python int is exact for any sign, and
    # cheaper than dividing
    low = (values & (_TWO_64 - 1)).astype(np.uint64)
    high = (values >> 64).astype(np.int64)
    words = np.empty(2 * count, dtype="<u8")
    words[0::2] = low
    words[1::2] = high.view(np.uint64)
    return pa.Array.from_buffers(pa.decimal128(38, scale), count, [None, pa.py_buffer(words)])
