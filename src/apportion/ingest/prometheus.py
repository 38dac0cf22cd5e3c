"""Prometheus query results as driver rows: NVIDIA's DCGM exporter (GPU utilisation per pod,
namespace and GPU) and kube-state-metrics (GPU requests), saved from ``/api/v1/query_range``
(a matrix) or ``/api/v1/query`` (a vector), one answer per file or one per line.

A matrix's sample covers the step to the next one (the series' own spacing; its last sample
takes the step before it), so a gauge becomes a quantity of seconds:

| metric | driver | quantity per sample |
| --- | --- | --- |
| ``DCGM_FI_DEV_GPU_UTIL`` (percent) | ``gpu_busy_seconds`` | value / 100 x step |
| ``DCGM_FI_PROF_GR_ENGINE_ACTIVE`` (ratio) | ``gpu_engine_active_seconds`` | value x step |
| ``kube_pod_container_resource_requests``, GPUs | ``gpu_requested_seconds`` | value x step |
| any other metric | its name, lower case, with ``_seconds`` | value x step |

A vector's sample is taken as it is (a query that already integrates, such as
``sum_over_time(...)``), under the metric's name in lower case (``prometheus`` when the
query's result has no name). The resource is the series' ``cluster`` label, else its node
(``Hostname``, ``node``, ``instance``); its other labels are read as dimensions by the tag
policy (``tags.aliases: {use_case: [namespace]}``). A sample that is not a number (``NaN``)
is quarantined with what it said; quantities are rounded half to even to 12 places.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from apportion.engine.dataplane import FileError
from apportion.ingest.litellm import KeyReader, dimensions_from, driver_columns
from apportion.ingest.readers import Look, Read, Staging
from apportion.ingest.registry import Reader, reader
from apportion.ingest.reports import json_documents, text_table
from apportion.money import EXACT, rounded_text
from apportion.schema import tables as t

_KNOWN: dict[str, tuple[str, Decimal]] = {  # metric -> (driver, factor)
    "DCGM_FI_DEV_GPU_UTIL": ("gpu_busy_seconds", Decimal("0.01")),
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE": ("gpu_engine_active_seconds", Decimal(1)),
}
_REQUESTS = "kube_pod_container_resource_requests"
_RESOURCE_LABELS = ("cluster", "Hostname", "node", "kubernetes_node", "instance")
# labels that say where a sample was measured, not whose it is
_NOT_DIMENSIONS = {
    "__name__",
    "job",
    "UUID",
    "device",
    "modelName",
    "pci_bus_id",
    "DCGM_FI_DRIVER_VERSION",
}


def is_query_result(document: Any) -> bool:
    data = document.get("data") if isinstance(document, dict) else None
    return (
        isinstance(data, dict)
        and data.get("resultType") in ("matrix", "vector")
        and isinstance(data.get("result"), list)
    )


def read(path: Path, policy: KeyReader, dimensions: list[str]) -> pa.Table:
    rows: list[dict[str, str | None]] = []
    numbers: list[int] = []
    for number, document in json_documents(path, is_query_result, "a Prometheus query result"):
        data = document["data"]
        for series in data["result"]:
            if not isinstance(series, dict) or not isinstance(series.get("metric"), dict):
                raise FileError(f"{path.name}: line {number} has a result that is not a series")
            for row in _series_rows(series, data["resultType"], policy, dimensions):
                rows.append(row)
                numbers.append(number)
    return text_table(rows, numbers, driver_columns(dimensions))


def _series_rows(
    series: Mapping[str, Any], kind: str, policy: KeyReader, dimensions: list[str]
) -> Iterator[dict[str, str | None]]:
    labels = {str(k): v for k, v in series["metric"].items()}
    driver, factor = _driver(labels, integrate=kind == "matrix")
    resource = next((str(labels[k]) for k in _RESOURCE_LABELS if labels.get(k)), None)
    found = dimensions_from([labels], policy, dimensions, skip=_NOT_DIMENSIONS)
    given = series.get("values") if kind == "matrix" else [series.get("value")]
    samples: list[list[Any]] = [
        s for s in (given if isinstance(given, list) else []) if isinstance(s, list) and len(s) == 2
    ]
    times = [_seconds(stamp) for stamp, _ in samples]
    for k, (stamp, value) in enumerate(samples):
        step = _step(times, k) if kind == "matrix" else Decimal(1)
        yield {
            "timestamp": _time(times[k], stamp),
            "driver": driver,
            "quantity": _quantity(value, factor * step if step is not None else None),
            "resource_id": resource,
            **{d: found.get(d) for d in dimensions},
        }


def _driver(labels: Mapping[str, Any], integrate: bool) -> tuple[str, Decimal]:
    name = str(labels.get("__name__") or "")
    if not integrate:
        return (name.lower() or "prometheus"), Decimal(1)
    if name in _KNOWN:
        return _KNOWN[name]
    if name == _REQUESTS and labels.get("resource") == "nvidia_com_gpu":
        return "gpu_requested_seconds", Decimal(1)
    return f"{name.lower() or 'prometheus'}_seconds", Decimal(1)


def _step(times: list[Decimal | None], k: int) -> Decimal | None:
    """The seconds a matrix sample covers: to the next sample, or (the last) from the one
    before; None for a lone sample, whose span the answer does not say."""
    if len(times) < 2:
        return None
    a, b = (times[k], times[k + 1]) if k + 1 < len(times) else (times[k - 1], times[k])
    if a is None or b is None or b <= a:
        return None
    return EXACT.subtract(b, a)


def _seconds(stamp: Any) -> Decimal | None:
    try:
        value = stamp if isinstance(stamp, Decimal) else Decimal(str(stamp))
    except ArithmeticError:
        return None
    return value if value.is_finite() else None


def _time(seconds: Decimal | None, stamp: Any) -> str | None:
    if seconds is None:
        return None if stamp is None else str(stamp)  # quarantined as not a time
    try:
        moment = datetime.fromtimestamp(int(seconds), UTC)
    except (ValueError, OverflowError, OSError):
        return str(stamp)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _quantity(value: Any, scale: Decimal | None) -> str:
    """The sample x ``scale``, rounded to 12 places; what is not a number, as it was written
    (the row is quarantined with it)."""
    written = str(value)
    if scale is None:
        return f"{written} over no known step (a lone sample of a range query)"
    try:
        number = Decimal(written.strip())
    except ArithmeticError:
        return written
    if not number.is_finite():
        return written
    return rounded_text(EXACT.multiply(number, scale), t.QUANTITY_SCALE)


@dataclass(frozen=True)
class QueryResult:
    """The prometheus reader's stager: saved query answers, as driver rows."""

    reader: Reader

    def recognises(self, look: Look) -> bool:
        return is_query_result(look.first)

    def stage(self, path: Path, at: Staging) -> Read:
        drivers = read(path, at.policy(), at.config.dimensions)
        notes = [f"read as {self.reader.title} ({self.reader.name})"]
        return Read.arrow(at, drivers, notes=notes)


READER = QueryResult(reader("prometheus"))
