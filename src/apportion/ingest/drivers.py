"""Driver files: meters and proxy metrics that shared costs are split by.

Columns (any case): ``timestamp`` (or ``date``), ``driver``, ``quantity``, optional
``resource_id``, and one column per configured dimension (``use_case``, ``cost_centre``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from apportion.engine.dataplane import DataPlane, FileError
from apportion.ingest import values
from apportion.ingest.quarantine import quarantine_rows
from apportion.ingest.readers import Table
from apportion.ingest.registry import reader
from apportion.ingest.roles import by_role
from apportion.schema import tables as t

_ALIASES = {
    "timestamp": "timestamp",
    "date": "timestamp",
    "driver": "driver",
    "quantity": "quantity",
    "resource_id": "resource_id",
    "resourceid": "resource_id",
}
REQUIRED = ("timestamp", "driver", "quantity")


@dataclass(frozen=True)
class Normalised:
    rows: ir.Table
    quarantine: ir.Table
    ignored_columns: tuple[str, ...]
    dimensions: tuple[str, ...]  # the dimension keys every row's map carries


def _role(header: str, dimensions: list[str]) -> str | None:
    key = header.strip().lower()
    if key in dimensions:
        return f"dim:{key}"
    return _ALIASES.get(key)


def recognise(headers: list[str], dimensions: list[str]) -> bool:
    roles = {_role(h, dimensions) for h in headers}
    return all(required in roles for required in REQUIRED)


# its stager (apportion.ingest.readers): the file staged as it is, told by its columns
READER = Table(reader("drivers"), lambda columns, config: recognise(columns, config.dimensions))


def normalise(
    staged: ir.Table,
    headers: dict[str, str],
    *,
    dimensions: list[str],
    source: str,
    file_hash: str,
    file_name: str,
    plane: DataPlane,
) -> Normalised:
    """Parse once into one materialised table; the rows to load and the rows to quarantine
    are filters over it."""
    columns, ignored = by_role(headers, lambda header: _role(header, dimensions), file_name)
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise FileError(
            f"{file_name}: not a driver file: missing column(s) {', '.join(missing)} "
            "(expected timestamp or date, driver, quantity, optional resource_id and dimensions)"
        )
    stamp = values.timestamp(staged[columns["timestamp"]])
    quantity = values.decimal(staged[columns["quantity"]], scale=t.QUANTITY_SCALE)
    driver = values.text(staged[columns["driver"]])
    resource = (
        values.text(staged[columns["resource_id"]])
        if "resource_id" in columns
        else ibis.null("string")
    )
    present = [d for d in dimensions if f"dim:{d}" in columns]
    dimension_map = (
        ibis.map(
            ibis.array(present),
            ibis.array([values.text(staged[columns[f"dim:{d}"]]) for d in present]),
        )
        if present
        else ibis.null("map<string, string>")
    )
    raw_quantity = values.text(staged[columns["quantity"]])
    reason = ibis.cases(
        (stamp.invalid | stamp.value.isnull(), ibis.literal("timestamp: missing or not a date")),
        (driver.isnull(), ibis.literal("driver: missing")),
        (quantity.invalid, "quantity: '" + raw_quantity.substr(0, 60) + "' is not a number"),
        (quantity.value.isnull(), ibis.literal("quantity: missing")),
        (quantity.value < 0, "quantity: " + raw_quantity.substr(0, 60) + " is negative"),
        else_=ibis.null("string"),
    )
    rows = plane.materialise(
        staged.select(
            staged[t.ROW_NUMBER],
            _ts=stamp.value,
            _driver=driver,
            _quantity=quantity.value,
            _resource=resource,
            _dims=dimension_map,
            _reason=reason,
        )
    )
    good = rows.filter(rows._reason.isnull())
    bad = rows.filter(rows._reason.notnull())
    return Normalised(
        rows=good.select(
            **{
                t.SOURCE: ibis.literal(source),
                t.FILE_HASH: ibis.literal(file_hash),
                t.ROW_NUMBER: good[t.ROW_NUMBER],
                t.BILLING_PERIOD: good._ts.strftime("%Y-%m"),
                "timestamp": good._ts,
                "driver": good._driver,
                "quantity": good._quantity,
                "resource_id": good._resource,
                "dimensions": good._dims,
            }
        ),
        quarantine=quarantine_rows(
            bad,
            kind="driver",
            source=source,
            file_hash=file_hash,
            file_name=file_name,
            period=bad._ts.strftime("%Y-%m"),
        ),
        ignored_columns=tuple(ignored),
        dimensions=tuple(present),
    )
