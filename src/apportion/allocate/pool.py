"""A pool: the cost lines (or, in a cascade, the allocations) one rule claimed that share a
currency, every bill dimension, a driver window and a resource, split once as one amount.

A typed, frozen record, so a misspelt field is a type error and no step changes a pool another
step has read. The pools and allocations tables name its fields by their columns
(apportion.schema.columns); :meth:`Pool.column` reads a field by that name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from apportion.schema import columns as col
from apportion.schema import tables as t

# (dimension, where its value came from) for the dimensions a first-generation pool's lines set
Sources = list[tuple[str, str]] | None


@dataclass(frozen=True)
class Pool:
    pool_id: str
    run_id: str
    generation: int  # 0: bill lines; n: allocations of generation n - 1 a later rule claimed
    period: str  # YYYY-MM
    rule: str | None  # None: no rule claimed the cost (it stays unallocated)
    method: str  # the rule's method, "unallocated" without one
    driver: str | None
    path: str  # the rules its cost passed through, "platform -> shared"
    currency: str
    bill: Mapping[str, str | None]  # every t.BILL_DIMENSIONS column, as the lines say it
    window_start: datetime | None  # a driver-based rule's window
    pool_resource: str | None  # the resource proportional drivers are read on
    resource_id: str | None  # the pool's resource, or the one all its lines share
    resource_name: str | None
    values: tuple[str | None, ...]  # per dimension, what the pool itself says
    origin: tuple[str | None, ...]  # per dimension, what its bill lines said
    sources: Sources
    members: int
    amounts: Mapping[str, Decimal]  # every cost metric
    # what the pool's lines say was consumed (ConsumedQuantity), read only for a rule whose
    # idle capacity is that (apportion.allocate.capacity)
    consumed: Decimal | None = None

    def column(self, name: str) -> Any:
        """The field the pools or allocations table calls ``name``; None for one a pool does
        not carry (an allocation's own columns)."""
        if name in self.bill:
            return self.bill[name]
        if name in self.amounts:
            return self.amounts[name]
        field = _FIELDS.get(name)
        return None if field is None else getattr(self, field)

    def bill_key(self) -> tuple[Any, ...]:
        """What the pool says of the bill: currency, every bill dimension, and the values its
        bill lines had in each dimension."""
        return (self.currency, *(self.bill[name] for name in t.BILL_DIMENSIONS), *self.origin)


_FIELDS = {
    col.POOL_ID: "pool_id",
    col.RUN_ID: "run_id",
    col.GENERATION: "generation",
    t.BILLING_PERIOD: "period",
    col.RULE: "rule",
    col.METHOD: "method",
    col.DRIVER: "driver",
    col.PATH: "path",
    col.BILLING_CURRENCY: "currency",
    col.WINDOW_START: "window_start",
    col.RESOURCE_ID: "resource_id",
    col.RESOURCE_NAME: "resource_name",
    col.MEMBERS: "members",
    col.SOURCES: "sources",
}
