"""Parsing real-world cells into exact values, as Ibis expressions over text columns.

Real exports are messy (../shared/fixtures/README.md): the literal string ``NULL``, money written
as ``"$10,000.00 "``, ``m/d/yy`` dates, timestamps without a zone. Each parser returns the
parsed value and a boolean "the cell had text that did not parse", so a bad cell quarantines its
row instead of turning silently into NULL.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from apportion.engine.dataplane import JsonObject
from apportion.schema.tables import MONEY_SCALE

_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_THOUSANDS = r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$"
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)?$"
_EARLIEST_YEAR, _LATEST_YEAR = 1970, 2200
_US_DATE = r"^(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})$"


@dataclass(frozen=True)
class Parsed:
    value: ir.Value
    invalid: ir.BooleanValue  # text present but not a valid value of the type


def text(cell: ir.Value) -> ir.StringValue:
    """Trimmed text, with empty cells and the literal NULL read as no value. Typed cells (from
    Parquet) become their text; maps, structs and lists become JSON."""
    kind = cell.type()
    if kind.is_map() or kind.is_struct() or kind.is_array():
        cell = cell.cast("json")
    # NULLIF keeps one reference to the cell, so parsers built on this stay small in SQL
    return cell.cast("string").strip().nullif("").nullif("NULL").nullif("null")


def decimal(cell: ir.Value, *, scale: int = MONEY_SCALE) -> Parsed:
    """An exact decimal; currency signs, spaces and thousands separators are dropped. A value
    with more decimal places than the engine keeps is invalid rather than rounded, and so is a
    decimal comma. Integer and decimal columns that fit are taken as they are."""
    kind = cell.type()
    fits = kind.is_decimal() and (
        (kind.scale or 0) <= scale and (kind.precision or 38) - (kind.scale or 0) <= 38 - scale
    )
    if kind.is_integer() or fits:
        return Parsed(cell.cast(f"decimal(38, {scale})"), ibis.literal(False))
    raw = text(cell)
    bare = raw.re_replace(r"[\s$]", "")
    # a comma is a thousands separator only in groups of three ("1,234.5"); "1,5" is a decimal
    # comma whose meaning we will not guess, so it stays and the cell is invalid
    cleaned = ibis.ifelse(bare.re_search(_THOUSANDS), bare.re_replace(",", ""), bare)
    fraction = cleaned.re_extract(r"\.(\d*?)0*([eE][+-]?\d+)?$", 1)
    exponent = cleaned.re_extract(r"[eE]([+-]?\d+)$", 1).nullif("").cast("int64").fill_null(0)
    places = fraction.length().fill_null(0) - exponent
    well_formed = cleaned.re_search(_NUMBER) & (places <= scale)
    value = ibis.ifelse(well_formed, cleaned, ibis.null("string")).try_cast(f"decimal(38, {scale})")
    return Parsed(value, raw.notnull() & value.isnull())


def timestamp(cell: ir.Value) -> Parsed:
    """ISO 8601 / RFC 3339 (with or without zone, 'T' or space) and US m/d/yy dates, stored as
    naive UTC. Timestamp and date columns are taken as they are (zoned ones in UTC)."""
    kind = cell.type()
    if kind.is_timestamp() or kind.is_date():
        zoned = kind.is_timestamp() and kind.timezone
        stamp = cell.cast("timestamp('UTC')").cast("timestamp") if zoned else cell.cast("timestamp")
        value = ibis.ifelse(_plausible(stamp), stamp, ibis.null("timestamp"))
        return Parsed(value, cell.notnull() & value.isnull())
    raw = text(cell)
    month = raw.re_extract(_US_DATE, 1).lpad(2, "0")
    day = raw.re_extract(_US_DATE, 2).lpad(2, "0")
    year = raw.re_extract(_US_DATE, 3)
    year = ibis.ifelse(year.length() == 2, "20" + year, year)
    iso = ibis.cases(
        (raw.re_search(_ISO_DATE), raw),
        (raw.re_search(_US_DATE), year + "-" + month + "-" + day),
        else_=ibis.null("string"),
    )
    stamp = iso.try_cast("timestamp('UTC')").cast("timestamp")
    value = ibis.ifelse(_plausible(stamp), stamp, ibis.null("timestamp"))
    return Parsed(value, raw.notnull() & value.isnull())


def _plausible(stamp: ir.TimestampValue) -> ir.BooleanValue:
    """A billing timestamp in year 0001 or 9999 is a placeholder or a typo, not a charge."""
    return (stamp.year() >= _EARLIEST_YEAR) & (stamp.year() <= _LATEST_YEAR)


def tags(cell: ir.Value, json_object: JsonObject) -> Parsed:
    """A JSON object of tags as map<string, string>; ``json_object`` is the engine's reader."""
    raw = text(cell)
    is_object, members = json_object(raw)
    value = ibis.ifelse(is_object, members, ibis.null("map<string, string>"))
    return Parsed(value, raw.notnull() & ~is_object.fill_null(False))
