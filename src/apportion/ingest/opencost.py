"""OpenCost allocation data as driver rows: its ``/allocation`` API's JSON, and the CSV its
exporter writes (``EXPORT_CSV_FILE``).

OpenCost measures what each Kubernetes workload requested and used; apportion allocates the
bill by those measures (its own cost estimates are list-priced, so they are only a proxy
driver, ``opencost_total_cost``). Each allocation gives, at its window's start:

| driver | from the API's JSON | from the CSV (one row a day) |
| --- | --- | --- |
| ``gpu_hours`` | ``gpuHours`` (GPUs allocated, i.e. requested) | ``GPUs`` x 24 |
| ``gpu_used_hours`` | ``gpuAllocation.gpuUsageAverage`` x hours | |
| ``cpu_core_hours`` | ``cpuCoreHours`` | ``CPUCoreRequestAverage`` x 24 |
| ``cpu_core_used_hours`` | ``cpuCoreUsageAverage`` x hours | ``CPUCoreUsageAverage`` x 24 |
| ``ram_byte_hours`` | ``ramByteHours`` | ``RAMBytesRequestAverage`` x 24 |
| ``opencost_total_cost`` | ``totalCost`` | ``TotalCost`` |

The resource is the allocation's cluster (``properties.cluster``; the CSV names none).
Dimension values come from its properties (namespace, controller, pod, ...) and labels, keys
read as the tag policy reads them: ``tags.aliases: {use_case: [namespace]}`` makes each
namespace a use case. OpenCost's own ``__idle__`` and ``__unmounted__`` entries are skipped
(apportion works out idle capacity itself, from the bill: apportion.allocate.capacity) and
counted in a note. Quantities are rounded half to even to 12 places, as driver quantities are
kept.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from apportion.engine.dataplane import FileError
from apportion.ingest.litellm import KeyReader, dimensions_from, driver_columns
from apportion.ingest.readers import Look, Read, Staging
from apportion.ingest.registry import Reader, reader
from apportion.ingest.reports import csv_records, json_documents, text_table
from apportion.money import EXACT, rounded_text
from apportion.schema import tables as t

SKIPPED = ("__idle__", "__unmounted__")
_HOURS_A_DAY = Decimal(24)

# driver -> the allocation's field that measures it directly
_MEASURED = {
    "gpu_hours": "gpuHours",
    "cpu_core_hours": "cpuCoreHours",
    "ram_byte_hours": "ramByteHours",
    "opencost_total_cost": "totalCost",
}
# driver -> the CSV column that averages it over the day (None: taken as it is)
_CSV = {
    "gpu_hours": ("GPUs", _HOURS_A_DAY),
    "cpu_core_hours": ("CPUCoreRequestAverage", _HOURS_A_DAY),
    "cpu_core_used_hours": ("CPUCoreUsageAverage", _HOURS_A_DAY),
    "ram_byte_hours": ("RAMBytesRequestAverage", _HOURS_A_DAY),
    "opencost_total_cost": ("TotalCost", None),
}
CSV_COLUMNS = ("Date", "Namespace", "ControllerKind", "ControllerName", "Pod", "Container")
_CSV_PROPERTIES = {
    "Namespace": "namespace",
    "ControllerKind": "controllerKind",
    "ControllerName": "controller",
    "Pod": "pod",
    "Container": "container",
}


@dataclass
class Allocations:
    drivers: pa.Table
    skipped: int  # OpenCost's idle and unmounted entries


def is_allocation_response(document: Any) -> bool:
    """An /allocation answer: ``data`` a list of sets (or one set) of named allocations."""
    if not isinstance(document, dict) or "data" not in document:
        return False
    sets = document["data"]
    sets = sets if isinstance(sets, list) else [sets]
    return any(
        isinstance(one, dict) and any(_is_allocation(a) for a in one.values()) for one in sets
    )


def _is_answer(document: Any) -> bool:
    """A saved answer: an object with ``data`` (a step with nothing measured is still one)."""
    return isinstance(document, dict) and "data" in document


def _is_allocation(value: Any) -> bool:
    return isinstance(value, dict) and "properties" in value and "window" in value


def read_json(path: Path, policy: KeyReader, dimensions: list[str]) -> Allocations:
    rows: list[dict[str, str | None]] = []
    numbers: list[int] = []
    skipped = 0
    for number, document in json_documents(path, _is_answer, "an OpenCost /allocation answer"):
        sets = document.get("data")
        for one in sets if isinstance(sets, list) else [sets]:
            if not isinstance(one, dict):
                raise FileError(f"{path.name}: line {number} is not an OpenCost allocation set")
            for name, allocation in one.items():
                if name in SKIPPED:
                    skipped += 1
                    continue
                if not _is_allocation(allocation):
                    continue  # null where a step had nothing: nothing measured
                for row in _allocation_rows(allocation, policy, dimensions):
                    rows.append(row)
                    numbers.append(number)
    return Allocations(text_table(rows, numbers, driver_columns(dimensions)), skipped)


def _allocation_rows(
    allocation: Mapping[str, Any], policy: KeyReader, dimensions: list[str]
) -> Iterator[dict[str, str | None]]:
    properties = allocation.get("properties") or {}
    window = allocation.get("window") or {}
    start = _text(window.get("start") if isinstance(window, dict) else None) or _text(
        allocation.get("start")
    )
    found = _dimensions(properties if isinstance(properties, dict) else {}, policy, dimensions)
    cluster = _text(properties.get("cluster")) if isinstance(properties, dict) else None
    hours = _hours(allocation.get("minutes"))
    measured: dict[str, Any] = {
        driver: allocation.get(field) for driver, field in _MEASURED.items()
    }
    measured["cpu_core_used_hours"] = _times(allocation.get("cpuCoreUsageAverage"), hours)
    gpu = allocation.get("gpuAllocation")
    if isinstance(gpu, dict):
        measured["gpu_used_hours"] = _times(gpu.get("gpuUsageAverage"), hours)
    for driver, quantity in measured.items():
        if quantity is None:
            continue
        yield {
            "timestamp": start,
            "driver": driver,
            "quantity": _quantity(quantity),
            "resource_id": cluster,
            **{d: found.get(d) for d in dimensions},
        }


def read_csv(path: Path, policy: KeyReader, dimensions: list[str]) -> pa.Table:
    """The exporter's CSV: a row per workload and day, averages over the day."""
    rows: list[dict[str, str | None]] = []
    numbers: list[int] = []
    for number, cells in csv_records(path, is_csv_export, "OpenCost CSV export"):
        properties = {_CSV_PROPERTIES[c]: cells.get(c, "") for c in _CSV_PROPERTIES}
        found = _dimensions(properties, policy, dimensions)
        for driver, (column, factor) in _CSV.items():
            cell = (cells.get(column) or "").strip()
            if not cell:
                continue
            rows.append(
                {
                    "timestamp": cells.get("Date"),
                    "driver": driver,
                    "quantity": _quantity(_times(cell, factor) if factor else cell),
                    "resource_id": None,
                    **{d: found.get(d) for d in dimensions},
                }
            )
            numbers.append(number)
    return text_table(rows, numbers, driver_columns(dimensions))


def is_csv_export(header: list[str]) -> bool:
    names = {name.strip() for name in header}
    return set(CSV_COLUMNS) <= names and "TotalCost" in names


def _dimensions(
    properties: Mapping[str, Any], policy: KeyReader, dimensions: list[str]
) -> dict[str, str]:
    """Dimension values from the allocation's properties, then its labels (which win)."""
    labels: dict[str, Any] = {}
    for key in ("namespaceLabels", "labels"):
        given = properties.get(key)
        if isinstance(given, dict):
            labels.update(given)
    plain = {k: v for k, v in properties.items() if not isinstance(v, dict | list)}
    return dimensions_from((plain, labels), policy, dimensions)


def _hours(minutes: Any) -> Decimal | None:
    if not isinstance(minutes, Decimal) or not minutes.is_finite():
        return None
    return EXACT.divide(minutes, Decimal(60))


def _times(value: Any, factor: Decimal | None) -> Any:
    """``value`` x ``factor`` exactly; what is not a number is passed on, to be quarantined
    with what the file said."""
    if value is None or factor is None:
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except ArithmeticError:
        return value
    if not number.is_finite():
        return value
    return EXACT.multiply(number, factor)


def _quantity(value: Any) -> str:
    if isinstance(value, Decimal):
        return rounded_text(value, t.QUANTITY_SCALE)
    try:
        return rounded_text(Decimal(str(value).strip()), t.QUANTITY_SCALE)
    except ArithmeticError:
        return str(value)  # quarantined: not a number


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


@dataclass(frozen=True)
class AllocationAnswer:
    """The opencost reader's stager: the /allocation API's JSON, saved."""

    reader: Reader

    def recognises(self, look: Look) -> bool:
        return is_allocation_response(look.first)

    def stage(self, path: Path, at: Staging) -> Read:
        found = read_json(path, at.policy(), at.config.dimensions)
        notes = [f"read as {self.reader.title} ({self.reader.name})"]
        if found.skipped:
            notes.append(
                f"skipped {found.skipped} of OpenCost's own __idle__ and __unmounted__ entries "
                "(idle capacity is worked out from the bill: idle: in the rule)"
            )
        return Read.arrow(at, found.drivers, notes=notes)


@dataclass(frozen=True)
class CsvExport:
    """The opencost-csv reader's stager: the exporter's daily CSV."""

    reader: Reader

    def recognises(self, look: Look) -> bool:
        return is_csv_export(look.header)

    def stage(self, path: Path, at: Staging) -> Read:
        drivers = read_csv(path, at.policy(), at.config.dimensions)
        notes = [f"read as {self.reader.title} ({self.reader.name}); it names no cluster"]
        return Read.arrow(at, drivers, notes=notes)


JSON_READER = AllocationAnswer(reader("opencost"))
CSV_READER = CsvExport(reader("opencost-csv"))
