"""What a native export's line needs beyond its costs to be valid FOCUS 1.2: how often it is
charged (ChargeFrequency), and its PricingQuantity with a PricingUnit in FOCUS's unit format.

- ChargeFrequency is the export's own where it has one (Azure's ``frequency``), else the
  reader's by line kind, else by charge category: usage, and the tax and discounts that follow
  it, are Usage-Based; a purchase is One-Time unless the export says Recurring (never
  Usage-Based: FOCUS forbids it); credits and adjustments are One-Time.
- PricingQuantity and PricingUnit are set together or not at all (FOCUS requires a unit with a
  quantity and none without one): on every line but tax (whose quantity FOCUS requires to be
  null), where the export gives both.
- A pricing unit is written as FOCUS's unit format asks where the export's spelling is known
  (``Hrs`` is ``Hours``, ``GB-Mo`` ``GB-Months``, ``1K tokens`` ``1000 tokens``, Azure's ``10K``
  ``10000 Units``, Google's ``gibibyte month`` ``GiB-Months``); other units pass as written.
"""

from __future__ import annotations

import re

from apportion.ingest.reports import FocusRow
from apportion.schema import columns as col

# ChargeFrequency by ChargeCategory, where the export does not say
FREQUENCY_BY_CATEGORY: dict[str, str] = {
    "Usage": "Usage-Based",
    "Tax": "Usage-Based",  # levied on the usage it follows
    "Purchase": "One-Time",
    "Credit": "One-Time",
    "Adjustment": "One-Time",
}
# the exports' own spellings of the FOCUS values (Azure writes UsageBased, OneTime)
_FREQUENCIES: dict[str, str] = {
    "usagebased": "Usage-Based",
    "usage-based": "Usage-Based",
    "onetime": "One-Time",
    "one-time": "One-Time",
    "recurring": "Recurring",
}


def charge_frequency(category: str, given: str | None = None) -> str:
    """The FOCUS ChargeFrequency of a line of this charge category; ``given`` is the export's
    own (any of its spellings), used unless it makes a purchase Usage-Based."""
    found = _FREQUENCIES.get((given or "").strip().lower())
    if found is None or (category == "Purchase" and found == "Usage-Based"):
        return FREQUENCY_BY_CATEGORY.get(category, "One-Time")
    return found


# pricing units as the exports spell them, in lower case, and FOCUS's spelling
_UNITS: dict[str, str] = {
    # AWS
    "hrs": "Hours",
    "lambda-gb-second": "GB-Seconds",
    # Azure (its quantities are in these blocks: 0.0129 of 10K is 129 operations)
    "1": "Units",
    "1 hour": "Hours",
    "1 day": "Days",
    "1 month": "Months",
    "1/hour": "Hours",
    "1/day": "Days",
    "1/month": "Months",
    "1 gb": "GB",
    "1 gb/hour": "GB-Hours",
    "1 gb/month": "GB-Months",
    # Google Cloud (pricing_unit)
    "hour": "Hours",
    "day": "Days",
    "month": "Months",
    "second": "Seconds",
    "count": "Count",
    "request": "Requests",
    "kibibyte": "KiB",
    "mebibyte": "MiB",
    "gibibyte": "GiB",
    "tebibyte": "TiB",
    "pebibyte": "PiB",
    "gibibyte hour": "GiB-Hours",
    "gibibyte day": "GiB-Days",
    "gibibyte month": "GiB-Months",
    "tebibyte month": "TiB-Months",
    "thousand characters": "1000 Characters",
}
# then spellings by their form, first match
_UNIT_FORMS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(.+)-(?:hrs|hr|hour)$", re.IGNORECASE), r"\1-Hours"),  # ReadCapacityUnit-Hrs
    (re.compile(r"^(.+)-(?:mo|mos|month)$", re.IGNORECASE), r"\1-Months"),  # GB-Mo, Obj-Month
    (re.compile(r"^(.+)-(?:day)$", re.IGNORECASE), r"\1-Days"),
    (re.compile(r"^(.+)-(?:second|sec)$", re.IGNORECASE), r"\1-Seconds"),
    (re.compile(r"^(\d+)K$"), r"\g<1>000 Units"),  # Azure's 10K
    (re.compile(r"^(\d+)M$"), r"\g<1>000000 Units"),
    (re.compile(r"^(\d+)K\s+(.+)$"), r"\g<1>000 \2"),  # 1K tokens
    (re.compile(r"^(\d+)M\s+(.+)$"), r"\g<1>000000 \2"),
)


def pricing_unit(given: str | None) -> str | None:
    """A pricing unit in FOCUS's unit format where its spelling is known; else as written."""
    text = re.sub(r"\s*/\s*", "/", (given or "").strip())
    if not text:
        return None
    known = _UNITS.get(text.lower())
    if known is not None:
        return known
    for form, written in _UNIT_FORMS:
        if form.match(text):
            return form.sub(written, text)
    return text


def pricing(category: str, quantity: str | None, unit: str | None) -> FocusRow:
    """PricingQuantity and PricingUnit: both, where the export has both and the line is not
    tax; otherwise neither."""
    if category == "Tax" or not (quantity or "").strip() or not (unit or "").strip():
        return {col.PRICING_QUANTITY: None, col.PRICING_UNIT: None}
    return {col.PRICING_QUANTITY: quantity, col.PRICING_UNIT: unit}
