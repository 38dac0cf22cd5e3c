"""From a statement line down: the allocations behind it (rule, method, driver, quantity,
share), their pools, the bill lines in those pools and the driver rows that set each share.
Every query is filtered by the caller's scope (apportion.explore.scope)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir

from apportion.access import Caller
from apportion.config.models import ActivityRule, ProportionalRule
from apportion.control.models import Adjustment
from apportion.errors import NotFoundError
from apportion.explore.overview import visible_lines
from apportion.explore.scope import NONE, Scoped, scoped
from apportion.ledger.lines import ADJUSTMENT, Line
from apportion.money import EXACT, ratio
from apportion.periods import Period
from apportion.schema import columns as col
from apportion.schema import tables as t
from apportion.schema.focus import COST_METRICS
from apportion.schema.tables import UNALLOCATED
from apportion.workspace import Workspace

MAX_PAGE = 500
SHARE_PLACES = Decimal("0.000001")  # an allocation's share of its pool, as shown
ALLOCATION_COLUMNS = (
    col.ALLOCATION_ID,
    col.POOL_ID,
    col.RULE,
    col.METHOD,
    col.DRIVER,
    col.GENERATION,
    col.WINDOW_START,
    col.RESOURCE_ID,
    col.RESOURCE_NAME,
    col.SERVICE_NAME,
    col.PROVIDER_NAME,
    col.CHARGE_CATEGORY,
    col.QUANTITY,
    col.POOL_QUANTITY,
    col.PATH,
    col.REASON,
)
# what a bill-line list shows; a single bill line shows every column
BILL_LINE_COLUMNS = (
    t.LINE_ID,
    col.CHARGE_PERIOD_START,
    col.PROVIDER_NAME,
    col.SERVICE_NAME,
    col.CHARGE_CATEGORY,
    col.RESOURCE_ID,
    col.RESOURCE_NAME,
    col.SKU_ID,
    col.CHARGE_DESCRIPTION,
    col.CONSUMED_QUANTITY,
    col.CONSUMED_UNIT,
    col.BILLED_COST,
    col.EFFECTIVE_COST,
    col.BILLING_CURRENCY,
    t.CATEGORY,
    t.SOURCE,
    t.ROW_NUMBER,
)
# the columns a bill-line list can be sorted and filtered by (nothing else reaches a query)
BILL_LINE_SORTS = (
    col.CHARGE_PERIOD_START,
    col.BILLED_COST,
    col.EFFECTIVE_COST,
    col.SERVICE_NAME,
    col.RESOURCE_ID,
    col.PROVIDER_NAME,
    col.CHARGE_CATEGORY,
    t.LINE_ID,
)
BILL_LINE_FILTERS = (
    col.PROVIDER_NAME,
    col.SERVICE_NAME,
    col.CHARGE_CATEGORY,
    col.RESOURCE_ID,
    t.CATEGORY,
)
SEARCHED = (
    col.RESOURCE_ID,
    col.RESOURCE_NAME,
    col.SERVICE_NAME,
    col.CHARGE_DESCRIPTION,
    col.SKU_ID,
)
DRIVER_COLUMNS = (
    col.TIMESTAMP,
    col.DRIVER,
    col.QUANTITY,
    col.DRIVER_RESOURCE_ID,
    col.DIMENSIONS,
    t.SOURCE,
)


@dataclass(frozen=True)
class Page:
    """One page of a longer list: where it starts, how many rows it may hold, how many the
    whole list has."""

    offset: int = 0
    limit: int = 50

    def __post_init__(self) -> None:
        if self.offset < 0 or not 1 <= self.limit <= MAX_PAGE:
            raise ValueError(f"offset must be 0 or more and limit 1 to {MAX_PAGE}")

    def as_dict(self, total: int) -> dict[str, int]:
        return {"offset": self.offset, "limit": self.limit, "total": total}


def find_line(workspace: Workspace, period: str, line_id: str, caller: Caller) -> Line:
    for line in visible_lines(workspace, period, caller) or []:
        if line.line_id == line_id:
            return line
    raise NotFoundError(f"no statement line {line_id} in {period}")


def line_detail(
    workspace: Workspace, period: str, line_id: str, caller: Caller, page: Page = Page()
) -> dict[str, Any]:
    """A statement line and the allocations behind it, largest first."""
    line = find_line(workspace, period, line_id, caller)
    found: dict[str, Any] = {"period": period, "line": line_dict(line)}
    if line.method == ADJUSTMENT:
        found["adjustment"] = _adjustment(workspace, line)
        found["allocations"] = []
        found["page"] = page.as_dict(0)
        return found
    scope = scoped(workspace, period, caller)
    finals = behind(scope, line)
    metric = workspace.config.ledger.metric
    total = workspace.data.scalar(finals.count())
    rows = workspace.data.to_arrow(
        finals.order_by([ibis.desc(metric), col.ALLOCATION_ID])
        .limit(page.limit, offset=page.offset)
        .select(*ALLOCATION_COLUMNS, col.DIMENSIONS, *COST_METRICS)
    ).to_pylist()
    exact = workspace.data.scalar(finals[metric].sum())
    found.update(
        {
            "metric": metric,
            col.RUN_ID: scope.run_id,
            "exact_total": _text(exact or Decimal(0)),
            "allocations": [_allocation(row, metric) for row in rows],
            "page": page.as_dict(total),
        }
    )
    return found


def behind(scope: Scoped, line: Line) -> ir.Table:
    """The final allocations a statement line adds up."""
    ledger = scope.workspace.config.ledger
    final = scope.final()
    return final.filter(
        scope.dimension(final, ledger.payer) == line.payer,
        scope.dimension(final, ledger.workload) == line.workload,
        final[t.CATEGORY].fill_null(NONE) == line.category,
        final.rule.fill_null(NONE) == line.rule,
        final.method.fill_null(NONE) == line.method,
        final.BillingCurrency == line.currency,
    )


def pool_detail(
    workspace: Workspace, period: str, pool_id: str, caller: Caller, page: Page = Page()
) -> dict[str, Any]:
    """A pool: what filled it, how it was split, and the allocations the caller may see."""
    scope = scoped(workspace, period, caller)
    pool = _pool(scope, pool_id)
    allocations = _visible_allocations(scope).filter(lambda a: a.pool_id == pool_id)
    metric = workspace.config.ledger.metric
    total = workspace.data.scalar(allocations.count())
    rows = workspace.data.to_arrow(
        allocations.order_by([ibis.desc(metric), col.ALLOCATION_ID])
        .limit(page.limit, offset=page.offset)
        .select(*ALLOCATION_COLUMNS, col.DIMENSIONS, col.IS_FINAL, *COST_METRICS)
    ).to_pylist()
    members = scope.members().filter(lambda m: m.pool_id == pool_id)
    rule = workspace.config.rule(pool[col.RULE]) if pool[col.RULE] else None
    return {
        "period": period,
        "metric": metric,
        "pool": plain_row(pool),
        "rule": rule.model_dump(mode="json") if rule else None,
        "members": workspace.data.scalar(members.count()),
        "members_are": "bill lines" if pool[col.GENERATION] == 0 else "allocations",
        "filled_by": _filled_by(scope, pool_id) if pool[col.GENERATION] else [],
        "allocations": [_allocation(row, metric) for row in rows],
        "page": page.as_dict(total),
    }


def _pool(scope: Scoped, pool_id: str) -> dict[str, Any]:
    pools = scope.visible_pools()
    rows = scope.workspace.data.to_arrow(pools.filter(pools.pool_id == pool_id)).to_pylist()
    if not rows:
        raise NotFoundError(f"no pool {pool_id} in {scope.period}")
    found: dict[str, Any] = rows[0]
    return found


def _visible_allocations(scope: Scoped) -> ir.Table:
    """Final allocations to the caller's cost centres, and the ones before them that filled
    pools it may see."""
    allocations = scope.allocations()
    visible = scope.visible_pool_ids()
    if visible is None:
        return allocations
    members = scope.members().semi_join(visible, col.POOL_ID)
    feeding = allocations.filter(~allocations.is_final).semi_join(
        members.select(allocation_id=members.member_id), col.ALLOCATION_ID
    )
    # an earlier split's allocation to another cost centre is that cost centre's: shown are
    # those to nobody yet (__unallocated__, split again later) and the caller's own
    payer = scope.dimension(feeding, scope.payer)
    feeding = feeding.filter(payer.isin([UNALLOCATED, NONE, *sorted(scope.caller.payers or ())]))
    mine = scope.final()
    return mine.union(feeding)


def _filled_by(scope: Scoped, pool_id: str) -> list[dict[str, Any]]:
    """The earlier pools whose allocations filled a later generation's pool."""
    members = scope.members().filter(lambda m: m.pool_id == pool_id)
    allocations = scope.allocations().semi_join(
        members.select(allocation_id=members.member_id), col.ALLOCATION_ID
    )
    metric = scope.workspace.config.ledger.metric
    grouped = allocations.group_by(col.POOL_ID, col.RULE).aggregate(
        allocations=allocations.count(), amount=allocations[metric].sum()
    )
    rows = scope.workspace.data.to_arrow(grouped.order_by(col.POOL_ID)).to_pylist()
    return [plain_row(row) for row in rows]


def bill_lines(
    workspace: Workspace,
    period: str,
    caller: Caller,
    *,
    pool_id: str | None = None,
    line_id: str | None = None,
    search: str | None = None,
    filters: dict[str, str] | None = None,
    sort: str = col.CHARGE_PERIOD_START,
    descending: bool = False,
    page: Page | None = Page(),
) -> dict[str, Any]:
    """Bill lines of the period the caller may see, narrowed to one pool's or one statement
    line's sources; ``page=None`` returns every row (CSV export)."""
    if sort not in BILL_LINE_SORTS:
        raise ValueError(f"cannot sort by {sort!r}: choose from {', '.join(BILL_LINE_SORTS)}")
    unknown = sorted(set(filters or {}) - set(BILL_LINE_FILTERS))
    if unknown:
        raise ValueError(
            f"cannot filter by {', '.join(unknown)}: choose from {', '.join(BILL_LINE_FILTERS)}"
        )
    scope = scoped(workspace, period, caller)
    lines = _scoped_bill_lines(scope)
    if pool_id is not None:
        _pool(scope, pool_id)  # not found, or not the caller's: 404 before any row is read
        lines = lines.semi_join(_source_ids(scope, _ids([pool_id])), t.LINE_ID)
    if line_id is not None:
        line = find_line(workspace, period, line_id, caller)
        pools = behind(scope, line).select(col.POOL_ID).distinct()
        lines = lines.semi_join(_source_ids(scope, pools), t.LINE_ID)
    for column, value in sorted((filters or {}).items()):
        lines = lines.filter(lines[column] == value)
    if search:
        needle = search.lower()
        lines = lines.filter(
            ibis.or_(*(lines[c].lower().contains(needle).fill_null(False) for c in SEARCHED))
        )
    keys = [ibis.desc(sort) if descending else ibis.asc(sort)]
    if sort != t.LINE_ID:  # the line id breaks ties; sorting by it twice is refused
        keys.append(ibis.asc(t.LINE_ID))
    ordered = lines.order_by(keys).select(*BILL_LINE_COLUMNS)
    total = workspace.data.scalar(lines.count())
    if page is not None:
        ordered = ordered.limit(page.limit, offset=page.offset)
    rows = workspace.data.to_arrow(ordered).to_pylist()
    return {
        "period": period,
        "columns": list(BILL_LINE_COLUMNS),
        "rows": [plain_row(row) for row in rows],
        "page": page.as_dict(total) if page else {"total": total},
    }


def bill_line(workspace: Workspace, period: str, line_id: str, caller: Caller) -> dict[str, Any]:
    """One bill line, every column, and the pools it went into."""
    scope = scoped(workspace, period, caller)
    lines = _scoped_bill_lines(scope)
    rows = workspace.data.to_arrow(lines.filter(lines[t.LINE_ID] == line_id)).to_pylist()
    if not rows:
        raise NotFoundError(f"no bill line {line_id} in {period}")
    members = scope.members().filter(lambda m: m.member_id == line_id)
    pools = scope.visible_pools().semi_join(members, col.POOL_ID)
    found = workspace.data.to_arrow(pools.select(col.POOL_ID, col.RULE, col.METHOD)).to_pylist()
    return {"period": period, "bill_line": plain_row(rows[0]), "pools": found}


def _scoped_bill_lines(scope: Scoped) -> ir.Table:
    lines = scope.workspace.data.table(t.COST_LINES)
    lines = lines.filter(lines[t.BILLING_PERIOD] == scope.period)
    visible = scope.visible_bill_line_ids()
    if visible is None:
        return lines
    return lines.semi_join(visible.select(**{t.LINE_ID: visible.line_id}), t.LINE_ID)


def _ids(ids: list[str]) -> ir.Table:
    return ibis.memtable({col.POOL_ID: ids}, schema={col.POOL_ID: "string"})


def _source_ids(scope: Scoped, pools: ir.Table) -> ir.Table:
    """The bill lines the given pools were filled from, through earlier pools if need be."""
    plane = scope.workspace.data
    frontier = pools.select(col.POOL_ID).distinct()
    sources = []
    for _ in range(len(scope.workspace.config.rules) + 1):
        members = scope.members().semi_join(frontier, col.POOL_ID)
        every = scope.pools().semi_join(frontier, col.POOL_ID)
        first = every.filter(every.generation == 0).select(col.POOL_ID)
        sources.append(scope.members().semi_join(first, col.POOL_ID))
        later = every.filter(every.generation > 0).select(col.POOL_ID)
        if plane.scalar(later.count()) == 0:
            break
        later_members = members.semi_join(later, col.POOL_ID)
        allocations = scope.allocations().semi_join(
            later_members.select(allocation_id=later_members.member_id), col.ALLOCATION_ID
        )
        frontier = allocations.select(col.POOL_ID).distinct()
    union = sources[0] if len(sources) == 1 else ibis.union(*sources, distinct=True)
    return union.select(**{t.LINE_ID: union.member_id})


def driver_rows(
    workspace: Workspace,
    period: str,
    pool_id: str,
    caller: Caller,
    *,
    allocation_id: str | None = None,
    page: Page = Page(),
) -> dict[str, Any]:
    """The driver rows that set a pool's shares: those of its driver in its window (and on its
    resource), for the targets the caller may see (one allocation's only, if named)."""
    scope = scoped(workspace, period, caller)
    pool = _pool(scope, pool_id)
    rule = workspace.config.rule(pool[col.RULE]) if pool[col.RULE] else None
    if not isinstance(rule, ProportionalRule | ActivityRule):
        return {
            "period": period,
            col.POOL_ID: pool_id,
            "note": "this pool was not split by a driver",
            "rows": [],
            "page": page.as_dict(0),
        }
    targets = _visible_allocations(scope).filter(lambda a: a.pool_id == pool_id)
    if allocation_id is not None:
        targets = targets.filter(targets.allocation_id == allocation_id)
    wanted = workspace.data.to_arrow(targets.select(col.DIMENSIONS)).to_pylist()
    if allocation_id is not None and not wanted:
        raise NotFoundError(f"no allocation {allocation_id} in pool {pool_id}")
    rows = workspace.data.table(t.DRIVERS)
    start = pool[col.WINDOW_START] or Period.parse(period).start
    end = start + timedelta(days=1) if rule.window == "day" else Period.parse(period).end
    if rule.window != "day":
        start = Period.parse(period).start
    selected = rows.filter(
        rows.driver == rule.driver, rows.timestamp >= start, rows.timestamp < end
    )
    resource = pool[col.RESOURCE_ID] if isinstance(rule, ProportionalRule) else rule.driver_resource
    if resource is not None:
        selected = selected.filter(selected.resource_id == resource)
    dims = workspace.config.dimensions
    # a dimension a driver row leaves out is __unallocated__ in the allocation it made
    matches = [
        ibis.and_(
            *(
                workspace.data.map_value(selected.dimensions, d).fill_null(UNALLOCATED)
                == (target[col.DIMENSIONS] or {}).get(d, UNALLOCATED)
                for d in dims
            )
        )
        for target in _distinct(wanted)
    ]
    selected = selected.filter(ibis.or_(*matches)) if matches else selected.filter(False)
    total = workspace.data.scalar(selected.count())
    found = workspace.data.to_arrow(
        selected.order_by([col.TIMESTAMP, t.SOURCE, t.ROW_NUMBER])
        .limit(page.limit, offset=page.offset)
        .select(*DRIVER_COLUMNS)
    ).to_pylist()
    return {
        "period": period,
        col.POOL_ID: pool_id,
        "driver": rule.driver,
        "window": rule.window,
        "resource": resource,
        "rows": [plain_row(row) for row in found],
        "page": page.as_dict(total),
    }


def _distinct(targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
    for target in targets:
        key = tuple(sorted(dict(target[col.DIMENSIONS] or {}).items()))
        seen[key] = {"dimensions": dict(key)}
    return list(seen.values())


def _adjustment(workspace: Workspace, line: Line) -> dict[str, Any] | None:
    with workspace.control.reading() as session:
        found = session.get(Adjustment, line.adjustment_id) if line.adjustment_id else None
        if found is None:
            return None
        return {
            "id": found.id,
            "kind": found.kind,
            "corrects_period": found.corrects_period,
            "corrects_line_id": found.corrects_line_id,
            "dispute_id": found.dispute_id,
            "description": found.description,
            "created_by": found.created_by,
        }


def line_dict(line: Line) -> dict[str, Any]:
    """A statement line as JSON: every field, money as plain text."""
    return {**line.canonical(), "amount": f"{line.amount:f}"}


def _allocation(row: dict[str, Any], metric: str) -> dict[str, Any]:
    share = ratio(row[col.QUANTITY], row[col.POOL_QUANTITY])
    plain = plain_row(row)
    plain["amount"] = plain[metric]
    plain["share"] = None if share is None else f"{EXACT.quantize(share, SHARE_PLACES):f}"
    return plain


def plain_row(row: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready: exact decimals as text, times as ISO 8601, maps as objects."""
    return {key: _value(value) for key, value in row.items()}


def _value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _text(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, list) and value and isinstance(value[0], tuple):
        return dict(value)  # a map column, as Arrow hands it to Python
    return value


def _text(value: Decimal) -> str:
    return f"{value:f}"
