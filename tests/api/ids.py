"""The ids the tests need, looked up once through the admin's view of the API."""

from __future__ import annotations

from dataclasses import dataclass

from tests.api.cases import PERIOD
from tests.api.conftest import Server

BASE = f"/api/v1/periods/{PERIOD}"


@dataclass(frozen=True)
class Ids:
    lines: dict[tuple[str, str], str]  # (payer, rule) -> statement line id
    pools: dict[tuple[str, str], str]  # (payer, rule) -> the pool of that line's allocation
    platform_pool: str  # generation 0: the Databricks line, before shared-services split it
    bill_lines: dict[int, str]  # row number -> x_LineId

    def url(self, template: str) -> str:
        return template.format(**self.fields())

    def fields(self) -> dict[str, str]:
        found = {f"line_{p}_{r}": v for (p, r), v in self.lines.items()}
        found.update({f"pool_{p}_{r}": v for (p, r), v in self.pools.items()})
        found.update({f"bill_{n}": v for n, v in self.bill_lines.items()})
        found["platform_pool"] = self.platform_pool
        found["base"] = BASE
        return {k.replace("-", "_"): v for k, v in found.items()}


def look_up(server: Server) -> Ids:
    lines: dict[tuple[str, str], str] = {}
    pools: dict[tuple[str, str], str] = {}
    for payer in ("cx", "ops", "__unallocated__"):
        statement = server.get("admin", f"{BASE}/cost-centres/{payer}").json()
        for line in statement["lines"]:
            key = (payer.strip("_"), line["rule"].strip("()"))
            lines[key] = line["line_id"]
            detail = server.get("admin", f"{BASE}/lines/{line['line_id']}").json()
            pools[key] = detail["allocations"][0]["pool_id"]
    shared = server.get("admin", f"{BASE}/pools/{pools[('cx', 'shared-services')]}").json()
    [platform] = shared["filled_by"]
    rows = server.get("admin", f"{BASE}/bill-lines").json()["rows"]
    return Ids(
        lines=lines,
        pools=pools,
        platform_pool=platform["pool_id"],
        bill_lines={row["x_RowNumber"]: row["x_LineId"] for row in rows},
    )
