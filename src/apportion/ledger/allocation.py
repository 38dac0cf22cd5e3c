"""One allocation run of a period, recorded in the ledger: refused for a closed period, held
by a lease while it goes on, planned and checked by apportion.allocate (claim, pool, split,
cascade, conserve), and published only if it conserves: the data plane's allocations are
replaced and the period's state names the run, or the run is recorded as failed and nothing
changes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from apportion.allocate import plan as planner
from apportion.allocate.conservation import ConservationError, check_conservation
from apportion.allocate.inputs import input_partitions
from apportion.allocate.plan import Plan
from apportion.config import Rule, config_hash
from apportion.control.audit import current_actor
from apportion.ledger import periods as ledger_periods
from apportion.periods import Period
from apportion.progress import Progress, quiet
from apportion.rules.expr import Match
from apportion.tags.derived import Derivation
from apportion.workspace import Workspace


@dataclass
class RunResult:
    run_id: str
    period: str
    published: bool
    pools: int = 0
    allocations: int = 0
    generations: int = 0
    message: str | None = None
    # driver values folded to the tag policy's spelling: (dimension, as written, as folded)
    folded: tuple[tuple[str, str, str], ...] = ()
    notes: tuple[str, ...] = ()  # e.g. what a step-down group dropped


def allocate_period(
    workspace: Workspace,
    period_text: str,
    progress: Progress | None = None,
    *,
    restatement: bool = False,
    actor: str | None = None,
) -> RunResult:
    """Allocate the period and publish the run if it conserves. A closed period is refused,
    unless this is the restatement run whose difference apportion.ledger.adjustments posts."""
    say = progress or quiet
    config = workspace.config
    period = Period.parse(period_text)
    control = workspace.control
    if not restatement:
        ledger_periods.refuse_if_closed(control, str(period))
    planner.refuse_if_empty(workspace.data, period)
    rules = planner.parsed_rules(config)
    # mapping tables are read (and a bad one refused) before the run is recorded
    derivation = Derivation.of_config(config, workspace.root)
    run_id = f"{period}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    # held until the run is finished: a later open tells a run still going from one whose
    # process died (the lease goes with the process, however it ends)
    with workspace.run_lease(run_id):
        control.start_run(run_id, str(period), config_hash(config))
        return _run(workspace, period, rules, derivation, run_id, say, restatement, actor)


def _run(
    workspace: Workspace,
    period: Period,
    rules: list[tuple[Rule, Match]],
    derivation: Derivation,
    run_id: str,
    say: Progress,
    restatement: bool,
    actor: str | None,
) -> RunResult:
    """Plan, check and publish a recorded run; whatever stops it marks it failed."""
    config, control, plane = workspace.config, workspace.control, workspace.data
    try:
        say("recording the inputs")
        inputs = input_partitions(plane, period)
        plan = planner.plan_period(plane, config, derivation, rules, period, run_id, say)
        say("checking conservation")
        allocations = plan.allocation_table()
        conserved = check_conservation(plane, period, plan.pools, allocations, config.dimensions)
    except (ConservationError, OverflowError) as exc:
        # an amount beyond DECIMAL(38, 18) cannot be kept exactly: refuse, like an imbalance
        control.finish_run(run_id, "failed", str(exc), None)
        return RunResult(run_id, str(period), published=False, message=str(exc))
    except Exception as exc:
        control.finish_run(run_id, "failed", str(exc), None)
        raise
    say("publishing")
    try:
        # closed while this run planned: its allocation stands; else a close prepared on the
        # allocation this replaces is refused from here on
        claimed = None if restatement else ledger_periods.claim_for_publishing(control, str(period))
        planner.write_allocations(plane, period, config.dimensions, plan, allocations)
        ledger_periods.record_published(
            control,
            run_id,
            str(period),
            totals=_run_totals(plan, conserved),
            inputs=inputs,
            actor=actor or current_actor(),
            restatement=restatement,
            claimed=claimed,
        )
    except Exception as exc:
        # the data plane's transaction rolled back, or it committed and the control plane
        # refused the record (a close or another run came between): either way this run is
        # failed, and the period's state names the run it stands on
        control.finish_run(run_id, "failed", f"publishing failed: {exc}", None)
        raise
    generations = max((p.generation for p in plan.pools), default=-1) + 1
    return RunResult(
        run_id,
        str(period),
        published=True,
        pools=len(plan.pools),
        allocations=allocations.num_rows,
        generations=generations,
        folded=tuple(sorted(plan.folded)),
        notes=tuple(sorted(plan.notes)),
    )


def _run_totals(plan: Plan, conserved: dict[tuple[str, str], Decimal]) -> dict[str, Any]:
    """What the run's record keeps: its size, and the cost it conserved per currency and
    metric (allocations plus unallocated, equal to the ingested cost)."""
    by_currency: dict[str, dict[str, str]] = {}
    for (currency, metric), amount in sorted(conserved.items()):
        by_currency.setdefault(currency, {})[metric] = f"{amount:f}"
    return {"pools": len(plan.pools), "conserved": by_currency}
