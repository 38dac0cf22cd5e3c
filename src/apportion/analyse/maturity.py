"""Where the organisation stands (MISSION R8): crawl, walk or run, on the figures behind each
practice, and the next concrete step.

Each practice is placed on its own figure for the period; the organisation is as mature as its
weakest practice. One with nothing to measure (no forecasts submitted) ranks below crawl; one
that does not apply (no commitments recorded) is shown but not counted:

=====================  =====================================  ========  ========  ========
practice               figure                                 crawl     walk      run
=====================  =====================================  ========  ========  ========
allocation             share of the cost allocated            >= 50%    >= 80%    > 90%
tagging                share of the cost carrying every       >= 50%    >= 80%    > 90%
                       required tag (`tags coverage`)
forecasting            forecast variance (WAPE)               <= 20%    <= 15%    <= 12%
commitments            utilisation of committed cost          >= 60%    >= 80%    >= 95%
chargeback             share of the allocated cost on         > 0%      >= 50%    >= 80%
                       chargeback
=====================  =====================================  ========  ========  ========

Allocation and forecast variance follow the FinOps Framework's maturity figures; tagging is held
to the allocation's, commitment utilisation and chargeback are apportion's own defaults.
The tagging figure is the one `apportion tags coverage` shows (every required dimension present
with an allowed value, over all cost), so a verdict never disagrees with its report; the share
of the line-by-line cost (what direct rules claimed plus what no rule claimed) whose line named
its owner is shown beside it.
Amounts are in the ledger's metric (``ledger.metric``); with several currencies each figure is
the worst currency's, since shares compare across currencies and amounts never add up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from apportion.allocate.targets import NO_OWNER, NO_RULE
from apportion.analyse import commitments
from apportion.analyse.forecasts import accuracy
from apportion.config.ledger import CHARGEBACK, NOT_CHARGED
from apportion.ledger.lines import Line, stated_lines
from apportion.ledger.published import NotAllocatedError, final_allocations
from apportion.money import EXACT, add, at_least, ratio, subtract
from apportion.periods import Period
from apportion.report.totals import METHODS, MetricTotals, totals
from apportion.schema import columns as col
from apportion.schema.currency import minor_units
from apportion.schema.tables import UNALLOCATED
from apportion.tags.coverage import ALL, tag_coverage
from apportion.workspace import Workspace

STAGES = ("not yet crawling", "crawl", "walk", "run")
NOT_MEASURED = "not measured"
NOT_APPLICABLE = "not applicable"
PERCENT = Decimal("0.01")


@dataclass(frozen=True)
class Scale:
    """Where crawl, walk and run start on a figure (a fraction); ``higher`` says which way is
    better, ``strict_*`` whether the boundary itself is still below it (run > 90%)."""

    crawl: Decimal
    walk: Decimal
    run: Decimal
    higher: bool = True
    strict_run: bool = False
    strict_crawl: bool = False

    def stage(self, figure: Decimal) -> str:
        def reaches(limit: Decimal, strict: bool = False) -> bool:
            if self.higher:
                return figure > limit if strict else figure >= limit
            return figure <= limit

        if reaches(self.run, self.strict_run):
            return STAGES[3]
        if reaches(self.walk):
            return STAGES[2]
        if reaches(self.crawl, self.strict_crawl):
            return STAGES[1]
        return STAGES[0]

    def as_dict(self) -> dict[str, str]:
        sign = ">=" if self.higher else "<="
        run_sign = ">" if self.strict_run else sign
        crawl_sign = ">" if self.strict_crawl else sign
        return {
            "crawl": f"{crawl_sign} {_percent(self.crawl)}%",
            "walk": f"{sign} {_percent(self.walk)}%",
            "run": f"{run_sign} {_percent(self.run)}%",
        }


ALLOCATION = Scale(Decimal("0.5"), Decimal("0.8"), Decimal("0.9"), strict_run=True)
TAGGING = ALLOCATION
FORECASTING = Scale(Decimal("0.2"), Decimal("0.15"), Decimal("0.12"), higher=False)
COMMITMENTS = Scale(Decimal("0.6"), Decimal("0.8"), Decimal("0.95"))
# any chargeback at all is a first step beyond showback
CHARGEBACK_SCALE = Scale(Decimal(0), Decimal("0.5"), Decimal("0.8"), strict_crawl=True)


@dataclass(frozen=True)
class Practice:
    name: str
    figure: Decimal | None  # a fraction; None when not measured or not applicable
    stage: str  # one of STAGES, NOT_MEASURED or NOT_APPLICABLE
    scale: Scale
    details: dict[str, Any] = field(default_factory=dict)
    next_step: str | None = None

    @property
    def counts(self) -> bool:
        return self.stage != NOT_APPLICABLE

    @property
    def rank(self) -> int:
        """Its place on the scale; not measured ranks below not yet crawling."""
        return STAGES.index(self.stage) if self.stage in STAGES else -1

    def as_dict(self) -> dict[str, Any]:
        return {
            "practice": self.name,
            "figure": None if self.figure is None else f"{_percent(self.figure)}%",
            "stage": self.stage,
            "scale": self.scale.as_dict(),
            "details": self.details,
            "next_step": self.next_step,
        }


@dataclass(frozen=True)
class Maturity:
    period: str
    metric: str
    practices: tuple[Practice, ...]

    @property
    def weakest(self) -> Practice | None:
        counted = [p for p in self.practices if p.counts]
        return min(counted, key=lambda p: p.rank) if counted else None

    @property
    def stage(self) -> str:
        weakest = self.weakest
        if weakest is None:
            return NOT_MEASURED
        return STAGES[max(weakest.rank, 0)]

    @property
    def next_step(self) -> str | None:
        weakest = self.weakest
        return weakest.next_step if weakest else None

    def as_dict(self) -> dict[str, Any]:
        weakest = self.weakest
        return {
            "period": self.period,
            "metric": self.metric,
            "stage": self.stage,
            "weakest": weakest.name if weakest else None,
            "next_step": self.next_step,
            "practices": [p.as_dict() for p in self.practices],
        }


def maturity(workspace: Workspace, period: str) -> Maturity:
    Period.parse(period)
    lines = stated_lines(workspace, period)
    if lines is None:
        raise NotAllocatedError(
            f"period {period} has no published allocation: run `apportion allocate --period "
            f"{period}` first"
        )
    metric = workspace.config.ledger.metric
    found = [m for m in totals(workspace, Period.parse(period)).metrics if m.metric == metric]
    practices: list[Callable[[], Practice]] = [
        lambda: _allocation(found),
        lambda: _tagging(workspace, period, found),
        lambda: _forecasting(workspace, period),
        lambda: _commitments(workspace, period),
        lambda: _chargeback(lines),
    ]
    return Maturity(period, metric, tuple(measure() for measure in practices))


# -- the practices -----------------------------------------------------------------------------
def _worst(shares: dict[str, Decimal | None]) -> tuple[str, Decimal] | None:
    """The currency with the lowest share, and the share; None if none could be measured."""
    measured = {c: s for c, s in shares.items() if s is not None}
    if not measured:
        return None
    currency = min(measured, key=lambda c: measured[c])
    return currency, measured[currency]


def _allocation(found: list[MetricTotals]) -> Practice:
    worst = _worst({m.currency: _share(m.allocated_total, m.ingested) for m in found})
    if worst is None:
        return Practice("allocation", None, NOT_MEASURED, ALLOCATION, next_step=_NO_COST)
    currency, share = worst
    totals = next(m for m in found if m.currency == currency)
    # the figure the statements give: what reached no payer, summed from their rounded lines
    unallocated = at_least(totals.stated["unallocated"], minor_units(currency))
    # each method credited with all it split: cost split again counts under every rule
    by_method = {
        method: f"{_percent(ratio(totals.moved.get(method, Decimal(0)), totals.ingested))}%"
        for method in METHODS
    }
    step = None
    if share <= ALLOCATION.run:
        step = (
            f"{unallocated} {currency} of {totals.metric} is unallocated: tag it, or add a rule "
            "that claims it (`apportion report totals` gives it by reason)"
        )
    return Practice(
        "allocation",
        share,
        ALLOCATION.stage(share),
        ALLOCATION,
        {"currency": currency, "by_method": by_method, "unallocated": unallocated},
        step,
    )


def _tagging(workspace: Workspace, period: str, found: list[MetricTotals]) -> Practice:
    """The share of the period's cost that carries every required dimension with an allowed
    value: the figure `apportion tags coverage` shows on its "all required" row, from the
    same function, so the verdict and the report never disagree. Beside it, the share of the
    line-by-line cost (what direct rules claimed, and what stayed unallocated because its
    line named no owner) whose line named its owner."""

    if not found:
        return Practice("tagging", None, NOT_MEASURED, TAGGING, next_step=_NO_COST)
    metric = found[0].metric
    coverage = tag_coverage(workspace, Period.parse(period), months=1, top=1)
    worst = _worst(
        {
            currency: covered.share(ALL, metric) if covered.total.get(metric, 0) > 0 else None
            for currency, covered in coverage.overall.items()
        }
    )
    if worst is None:
        return Practice("tagging", None, NOT_MEASURED, TAGGING, next_step=_NO_COST)
    currency, share = worst
    covered = coverage.overall[currency]
    places = minor_units(currency)
    uncovered = subtract(covered.total[metric], covered.valid[ALL].get(metric, Decimal(0)))
    ownerless = _ownerless(workspace, period, metric)
    direct = next((m.allocated["direct"] for m in found if m.currency == currency), Decimal(0))
    attributable = add(direct, ownerless.get(currency, Decimal(0)))
    named = _share(direct, attributable)
    step = None
    if share <= TAGGING.run:
        step = (
            f"{at_least(uncovered, places)} {currency} of {metric} was billed on lines that "
            f"lack a required tag ({', '.join(coverage.required)}) or carry a value not "
            "allowed: `apportion tags coverage` lists the largest; tag those resources at "
            "provisioning (`apportion tags check`), or map their accounts (tags.inherit)"
        )
    return Practice(
        "tagging",
        share,
        TAGGING.stage(share),
        TAGGING,
        {
            "currency": currency,
            "required": coverage.required,
            "uncovered": at_least(uncovered, places),
            "line_by_line_owner_named": None if named is None else f"{_percent(named)}%",
            "attributable": at_least(attributable, places),
        },
        step,
    )


def _ownerless(workspace: Workspace, period: str, metric: str) -> dict[str, Decimal]:
    """Per currency, the unallocated cost whose line named no owner (no rule claimed it, a
    direct rule found no value, or the values it found name no payer): what tags would have
    placed."""

    final = final_allocations(workspace, Period.parse(period))
    unclaimed = (final.method == "unallocated") & final.reason.isin([NO_RULE, NO_OWNER])
    payer = final.dimensions[workspace.config.ledger.payer]
    chosen = final.filter(unclaimed | ((final.method == "direct") & (payer == UNALLOCATED)))
    grouped = chosen.group_by(col.BILLING_CURRENCY).aggregate(cost=chosen[metric].sum())
    return {
        row[col.BILLING_CURRENCY]: row["cost"] or Decimal(0)
        for row in workspace.data.to_arrow(grouped).to_pylist()
    }


def _share(part: Decimal, whole: Decimal) -> Decimal | None:
    """part / whole where that is a share: None when credits leave nothing (or less than the
    part) to take it of, so a refund-only currency neither reads as 1000% nor decides."""
    if whole <= 0 or part > whole or part < 0:
        return None
    return ratio(part, whole)


def _forecasting(workspace: Workspace, period: str) -> Practice:
    wape = accuracy(workspace, period)
    if wape is None:
        return Practice(
            "forecasting",
            None,
            NOT_MEASURED,
            FORECASTING,
            next_step=(
                "submit forecasts per cost centre and use case (`apportion forecast submit`), "
                "starting from the statistical baseline (`apportion forecast baseline`)"
            ),
        )
    step = None
    if wape > FORECASTING.run:
        step = (
            f"forecast variance is {_percent(wape)}%: look at the owners with the largest "
            "error and persistent bias in `apportion report forecast`"
        )
    return Practice(
        "forecasting", wape, FORECASTING.stage(wape), FORECASTING, {"wape": str(wape)}, step
    )


def _commitments(workspace: Workspace, period: str) -> Practice:
    coverage, utilisation = commitments.portfolio_figures(workspace, period)
    details = {
        "coverage": None if coverage is None else f"{_percent(coverage)}%",
        "utilisation": None if utilisation is None else f"{_percent(utilisation)}%",
    }
    if utilisation is None:
        return Practice("commitments", None, NOT_APPLICABLE, COMMITMENTS, details)
    step = None
    if utilisation < COMMITMENTS.run:
        step = (
            f"commitment utilisation is {_percent(utilisation)}%: what was committed is not "
            "all drawn; move eligible spend onto it, or commit less at renewal (`apportion "
            "report commitments` shows each one's burn-down and projected shortfall)"
        )
    return Practice(
        "commitments", utilisation, COMMITMENTS.stage(utilisation), COMMITMENTS, details, step
    )


def _chargeback(lines: list[Line]) -> Practice:
    by_currency: dict[str, dict[str, Decimal]] = {}
    showback: dict[tuple[str, str], Decimal] = {}
    for line in lines:
        if line.mode == NOT_CHARGED:
            continue
        totals = by_currency.setdefault(line.currency, {"all": Decimal(0), CHARGEBACK: Decimal(0)})
        totals["all"] = add(totals["all"], line.amount)
        if line.mode == CHARGEBACK:
            totals[CHARGEBACK] = add(totals[CHARGEBACK], line.amount)
        else:
            key = (line.currency, line.category)
            showback[key] = add(showback.get(key, Decimal(0)), line.amount)
    worst = _worst({c: _share(t[CHARGEBACK], t["all"]) for c, t in by_currency.items()})
    charged = sorted({line.category for line in lines if line.mode == CHARGEBACK})
    if worst is None:
        return Practice("chargeback", None, NOT_MEASURED, CHARGEBACK_SCALE, next_step=_NO_COST)
    currency, share = worst
    step = None
    largest = max(
        ((category, amount) for (c, category), amount in showback.items() if c == currency),
        key=lambda found: found[1],
        default=None,
    )
    if share < CHARGEBACK_SCALE.run and largest is not None:
        category, amount = largest
        step = (
            f"charge back {category} ({at_least(amount, minor_units(currency))} {currency} "
            "shown back this period) once its consumers trust its allocation: a ledger.modes "
            "entry from the next period"
        )
    return Practice(
        "chargeback",
        share,
        CHARGEBACK_SCALE.stage(share),
        CHARGEBACK_SCALE,
        {"currency": currency, "categories_on_chargeback": charged},
        step,
    )


_NO_COST = "ingest the period's bills and allocate them"


def _percent(fraction: Decimal | None) -> str:
    if fraction is None:
        return "-"
    return f"{(fraction * 100).quantize(PERCENT, context=EXACT):f}"
