"""Parsing real-world cells into exact values, as Ibis expressions over text columns.

Real exports are messy (../shared/fixtures/README.md): the literal string ``NULL``, money written
as ``"$10,000.00 "``, ``m/d/yy`` dates, timestamps without a zone. Each parser returns the
parsed value and a boolean "the cell had text that did not parse", so a bad cell quarantines its
row instead of turning silently into NULL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

import ibis
import ibis.expr.types as ir

from apportion.engine.dataplane import JsonObject
from apportion.schema.tables import MONEY_SCALE

# an exponent of more than four digits is far past any column: refused by its form, so that no
# engine is asked to read 1e99999999999999999999's exponent as an integer
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,4})?$"
_THOUSANDS = r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$"
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)?$"
_EARLIEST_YEAR, _LATEST_YEAR = 1970, 2200
# what spreadsheets write: 9/1/2024, 9/1/24, 9/1/2024 0:00, 9/1/2024 12:30:15 PM. Month first;
# a two-digit year is in 2000-2099 (every reader reads it so: see us_date)
_US_DATE = (
    r"^(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})"
    r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*([AaPp][Mm])?)?$"
)


@dataclass(frozen=True)
class Parsed:
    value: ir.Value
    invalid: ir.BooleanValue  # text present but not a valid value of the type
    # why an invalid cell is invalid, where the type's name alone would mislead; else NULL
    why: ir.StringValue | None = None


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
    exponent = cleaned.re_extract(r"[eE]([+-]?\d{1,4})$", 1).nullif("").cast("int64").fill_null(0)
    places = fraction.length().fill_null(0) - exponent
    well_formed = cleaned.re_search(_NUMBER) & (places <= scale)
    value = ibis.ifelse(well_formed, cleaned, ibis.null("string")).try_cast(f"decimal(38, {scale})")
    return Parsed(value, raw.notnull() & value.isnull())


def count(cell: ir.Value) -> Parsed:
    """A whole number an int64 column holds (token and request counts); a bigger one is
    invalid, not an engine's conversion error."""
    parsed = decimal(cell, scale=0)
    value = parsed.value.try_cast("int64")
    return Parsed(value, parsed.invalid | (parsed.value.notnull() & value.isnull()))


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
        (raw.re_search(_US_DATE), year + "-" + month + "-" + day + " " + _us_time(raw)),
        else_=ibis.null("string"),
    )
    stamp = iso.try_cast("timestamp('UTC')").cast("timestamp")
    value = ibis.ifelse(_plausible(stamp), stamp, ibis.null("timestamp"))
    return Parsed(value, raw.notnull() & value.isnull())


def _us_time(raw: ir.StringValue) -> ir.StringValue:
    """The time of a US date as HH:MM:SS (midnight where it has none); 12 AM is 00."""
    hour = raw.re_extract(_US_DATE, 4).nullif("").try_cast("int64").fill_null(0)
    noon = raw.re_extract(_US_DATE, 7).upper()
    hour = ibis.cases(
        ((noon == "PM") & (hour < 12), hour + 12),
        ((noon == "AM") & (hour == 12), 0),
        else_=hour,
    )
    minute = raw.re_extract(_US_DATE, 5).nullif("").fill_null("00")
    second = raw.re_extract(_US_DATE, 6).nullif("").fill_null("00")
    return hour.cast("string").lpad(2, "0") + ":" + minute + ":" + second


def us_date(written: str) -> date | None:
    """A US date (with or without a time, which a date column drops) as a date; None when it
    is not one. The same reading as ``timestamp``: month first, a two-digit year in 2000-2099."""
    found = re.match(_US_DATE, written.strip())
    if found is None:
        return None
    month, day, year = (int(part) for part in found.group(1, 2, 3))
    try:
        return date(2000 + year if len(found.group(3)) == 2 else year, month, day)
    except ValueError:
        return None


def _plausible(stamp: ir.TimestampValue) -> ir.BooleanValue:
    """A billing timestamp in year 0001 or 9999 is a placeholder or a typo, not a charge."""
    return (stamp.year() >= _EARLIEST_YEAR) & (stamp.year() <= _LATEST_YEAR)


def tags(cell: ir.Value, json_object: JsonObject) -> Parsed:
    """A JSON object of tags as map<string, string>; ``json_object`` is the engine's reader.
    A key written twice (``{"team": "a", "team": "b"}``) is invalid: which value owns the
    cost is a guess, and a map with a repeated key cannot even be read back."""
    raw = text(cell)
    is_object, members = json_object(raw)
    keys = members.keys()
    # CASE, so that nothing reads the members of text that is not an object
    repeated = ibis.ifelse(is_object, keys.length() != keys.unique().length(), False)
    usable = is_object.fill_null(False) & ~repeated.fill_null(False)
    value = ibis.ifelse(usable, members, ibis.null("map<string, string>"))
    why = ibis.ifelse(repeated.fill_null(False), "a key is written twice", ibis.null("string"))
    return Parsed(value, raw.notnull() & ~usable, why)


# -- numbers the readers compute with in Python (quantity x price, fee sums, token totals) ------
# a DECIMAL(38, 18) column holds magnitudes below 10^20; a count column is a signed int64
_INTEGER_DIGITS = 38 - MONEY_SCALE
_INT64_MAX = 2**63 - 1
_MOST_PLACES = 64  # float noise has about 20; more is a mutation, and its text would be huge


class NotANumber(ValueError):
    """A cell with text that is no number an engine column can hold; the message says why."""


def number(cell: object, *, count: bool = False) -> Decimal | None:
    """A cell (text, or a number from exact JSON) as a finite Decimal that fits a money column
    (or, with ``count``, an int64 count); None when the cell is absent or blank. Every reader
    that adds or multiplies cells in Python reads them through this, so ``Infinity``, ``NaN``
    or ``1e99999999999999999999`` never reach arithmetic: NotANumber says why, and the reader
    keeps the cell as written so its row is quarantined with it."""
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return None
    if isinstance(cell, bool) or not isinstance(cell, str | int | float | Decimal):
        raise NotANumber(f"{cell!r} is not a number")
    try:
        found = Decimal(cell.strip()) if isinstance(cell, str) else Decimal(str(cell))
    except InvalidOperation as exc:
        raise NotANumber(f"{cell!r} is not a number") from exc
    if not found.is_finite():
        raise NotANumber(f"{written(found)} is not a finite number")
    if found and found.adjusted() >= _INTEGER_DIGITS:
        raise NotANumber(f"{written(found)} is beyond the {_INTEGER_DIGITS} digits money keeps")
    exponent = found.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -_MOST_PLACES:
        raise NotANumber(f"{written(found)} has more than {_MOST_PLACES} decimal places")
    if count and (found != found.to_integral_value() or abs(found) > _INT64_MAX):
        raise NotANumber(f"{written(found)} is not a count (a whole number within int64)")
    return found


def written(value: Decimal) -> str:
    """A decimal as plain text where that is short (0.1, 1234.5), else in exponent form:
    ``format(1e99999999999999999999, 'f')`` would be 10^20 characters long."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -_MOST_PLACES and value.adjusted() < 64:
        return format(value, "f")
    return str(value)
