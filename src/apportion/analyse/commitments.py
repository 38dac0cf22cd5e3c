"""Commitment utilisation, coverage and burn-down per period (MISSION R6.5).

A commitment with a ``commitment_id`` (reserved capacity, a committed-use discount) is read
from the bills' FOCUS commitment columns, rows whose CommitmentDiscountId is that id:

- used: EffectiveCost of its rows with CommitmentDiscountStatus ``Used`` (the commitment's
  cost applied to usage); unused, shown as idle: EffectiveCost of its ``Unused`` rows;
- utilisation = used / (used + unused), in the period;
- coverage = covered / eligible, where eligible is the EffectiveCost of the usage its scope
  selects within its term (ChargeCategory ``Usage``, ChargePeriodStart from the term's first
  day to its last, Unused rows left out: they are no usage) and covered the part of it that
  carries this commitment's id. The rest of eligible ran on demand;
- purchased: BilledCost of its ``Purchase`` rows (what was paid for it in the period).

A commitment without one (an enterprise agreement to spend X, prepaid credit) is measured by
the spend in its scope: EffectiveCost of the scoped lines charged within its term (by
ChargePeriodStart: a term from the 15th counts the month's lines from the 15th, as its share
counts only those days) that are not purchases (so prepaid credit is drawn down by the usage it
pays for, not by buying it). Its utilisation in a period is that spend over the commitment's
share of the period (amount x the term's days in the month / the term's days); coverage does
not apply. An active spend commitment whose scope selects no line of the period (a provider
named otherwise than the bills name it) is noted, not shown as a silent zero.

Both kinds burn down the same way: drawn per billing period of the term (used, or spend), the
cumulative draw, what remains of the amount, and a linear projection to the term's end (drawn
to date x term days / days elapsed) giving the projected shortfall (committed but not used:
idle cost, or under-spend owed) or overage. Amounts are exact sums; a projection is rounded to
the currency's minor unit, ratios are exact divisions shown to 10 places.

Unused commitment cost is allocated like any cost, by the first rule that claims it; the
report says, per currency, how much of the period's unused cost the statements carry under
the ``__idle__`` use case, and notes any that went elsewhere (beyond the statements' rounding:
each line is rounded to the minor unit, so lines under ``__idle__`` may differ from the exact
unused cost by less than a unit each).

The portfolio's coverage and utilisation are ratios of sums of one currency: they are worked
out per currency, and with commitments in several currencies each figure is the lowest
currency's (the report lists every currency's and notes it).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir

from apportion.analyse.commitment_records import (
    KINDS,
    CommitmentError,
    CommitmentView,
    add_commitment,
    commitments,
)
from apportion.config import ProportionalRule
from apportion.ledger.lines import stated_lines
from apportion.money import EXACT, add, at_least, exact_sum, ratio, subtract, to_minor
from apportion.periods import Period
from apportion.rules.columns import compile_match, line_columns
from apportion.rules.expr import parse_match
from apportion.schema import tables as t
from apportion.schema.currency import minor_units
from apportion.schema.tables import IDLE
from apportion.workspace import Workspace

__all__ = [
    "IDLE",
    "KINDS",
    "CommitmentError",
    "CommitmentView",
    "add_commitment",
    "commitment_report",
    "commitments",
    "portfolio_figures",
]

PLACES = Decimal(1).scaleb(-10)
SEVERAL = "(several)"  # rows of one commitment in more than one CommitmentDiscountUnit
ZERO = Decimal(0)
# what one grouped scan sums per billing period, for one commitment
SUMS = (
    "used",
    "unused",
    "used_quantity",
    "unused_quantity",
    "purchased",
    "eligible",
    "covered",
    "spent",
    "in_scope",  # lines its scope selects within the term, in any currency
    "other_currency",
)


@dataclass(frozen=True)
class Burn:
    period: str
    drawn: Decimal
    cumulative: Decimal
    remaining: Decimal


@dataclass
class CommitmentFigures:
    commitment: CommitmentView
    period: str
    status: str  # not started | active | ended
    sums: dict[str, Decimal]  # the period's, SUMS
    unit: str | None  # CommitmentDiscountUnit of its rows, when they agree
    share: Decimal  # the amount's pro-rata share of the period (exact)
    elapsed_days: int
    burn_down: list[Burn] = field(default_factory=list)
    # months of the term before the first bill the workspace holds: not known, not zero
    unloaded: list[str] = field(default_factory=list)
    measured_days: int | None = None  # days the projection is drawn from; None: elapsed_days

    @property
    def used(self) -> Decimal | None:
        return self.sums["used"] if self.commitment.is_discount else None

    @property
    def unused(self) -> Decimal | None:
        return self.sums["unused"] if self.commitment.is_discount else None

    @property
    def drawn(self) -> Decimal:
        """What counted against the commitment in the period: used, or spend."""
        return self.sums["used"] if self.commitment.is_discount else self.sums["spent"]

    @property
    def utilisation(self) -> Decimal | None:
        if self.period in self.unloaded:
            return None  # no bill of the period is loaded: its draw is unknown, not zero
        if self.commitment.is_discount:
            return _ratio(self.sums["used"], add(self.sums["used"], self.sums["unused"]))
        return _ratio(self.sums["spent"], self.share)

    @property
    def coverage(self) -> Decimal | None:
        if not self.commitment.is_discount:
            return None
        return _ratio(self.sums["covered"], self.sums["eligible"])

    @property
    def drawn_to_date(self) -> Decimal:
        return self.burn_down[-1].cumulative if self.burn_down else ZERO

    @property
    def projected(self) -> Decimal | None:
        """Drawn by the term's end if it goes on as it has: None before the term starts."""
        measured = self.elapsed_days if self.measured_days is None else self.measured_days
        if self.elapsed_days <= 0 or measured <= 0:
            return None
        days = self.commitment.term_days
        scaled = EXACT.divide(EXACT.multiply(self.drawn_to_date, Decimal(days)), measured)
        return to_minor(scaled, self.commitment.currency)

    @property
    def shortfall(self) -> Decimal | None:
        projected = self.projected
        return None if projected is None else max(subtract(self.commitment.amount, projected), ZERO)

    @property
    def overage(self) -> Decimal | None:
        projected = self.projected
        return None if projected is None else max(subtract(projected, self.commitment.amount), ZERO)

    def portfolio_part(self) -> tuple[Decimal, Decimal] | None:
        """(used, committed) of the period as the portfolio's utilisation sums them: a spend
        commitment's spend counts up to its share, so one that runs ahead does not hide
        another's idle share."""
        if self.commitment.is_discount:
            used, unused = self.sums["used"], self.sums["unused"]
            return (used, add(used, unused)) if used or unused else None
        if self.share <= 0:
            return None
        return min(max(self.sums["spent"], ZERO), self.share), self.share

    def as_dict(self) -> dict[str, Any]:
        c = self.commitment
        exact_text = _exact_in(c.currency)
        q = self.sums
        discount = c.is_discount
        return {
            **c.as_dict(),
            "measured_by": "commitment discount rows" if discount else "spend in scope",
            "period": self.period,
            "status": self.status,
            "used": exact_text(self.used),
            "unused": exact_text(self.unused),
            "idle": exact_text(self.unused),
            "utilisation": _text(self.utilisation),
            "used_quantity": _count(q["used_quantity"]) if discount else None,
            "unused_quantity": _count(q["unused_quantity"]) if discount else None,
            "unit": self.unit,
            "purchased": exact_text(q["purchased"]),
            "eligible": exact_text(q["eligible"]) if discount else None,
            "covered": exact_text(q["covered"]) if discount else None,
            "coverage": _text(self.coverage),
            "spend": exact_text(q["spent"]) if not discount else None,
            "period_share": exact_text(to_minor(self.share, c.currency)),
            "drawn": exact_text(self.drawn),
            "drawn_to_date": exact_text(self.drawn_to_date),
            "remaining": exact_text(subtract(c.amount, self.drawn_to_date)),
            "elapsed_days": self.elapsed_days,
            "measured_days": self.measured_days,
            "not_loaded": self.unloaded,
            "term_days": c.term_days,
            "projected": exact_text(self.projected),
            "projected_shortfall": exact_text(self.shortfall),
            "projected_overage": exact_text(self.overage),
            "burn_down": [
                {
                    "period": burn.period,
                    "drawn": exact_text(burn.drawn),
                    "cumulative": exact_text(burn.cumulative),
                    "remaining": exact_text(burn.remaining),
                }
                for burn in self.burn_down
            ],
        }


@dataclass(frozen=True)
class IdleCost:
    """The period's unused commitment cost (all Unused rows, in the ledger's metric) and how
    much of it the statements carry under the ``__idle__`` use case."""

    currency: str
    unused: Decimal
    allocated_to_idle: Decimal | None  # None: the period has no statements yet
    idle_lines: int = 0  # statement lines under __idle__ in this currency

    @property
    def elsewhere(self) -> Decimal:
        """Unused cost the statements do not carry under ``__idle__``, beyond their rounding
        (less than a minor unit per line under ``__idle__``); 0 without statements."""
        if self.allocated_to_idle is None:
            return ZERO
        gap = subtract(self.unused, self.allocated_to_idle)
        unit = Decimal(1).scaleb(-minor_units(self.currency))
        return ZERO if EXACT.abs(gap) < unit * self.idle_lines else gap

    def as_dict(self) -> dict[str, Any]:
        exact_text = _exact_in(self.currency)
        return {
            "currency": self.currency,
            "unused": exact_text(self.unused),
            "allocated_to_idle": exact_text(self.allocated_to_idle),
        }


@dataclass(frozen=True)
class Portfolio:
    """Coverage and utilisation over the commitments of one currency."""

    currency: str
    coverage: Decimal | None
    utilisation: Decimal | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "coverage": _text(self.coverage),
            "utilisation": _text(self.utilisation),
        }


@dataclass(frozen=True)
class CommitmentReport:
    period: str
    metric: str
    commitments: list[CommitmentFigures]
    idle: list[IdleCost]
    coverage: Decimal | None  # the lowest currency's, with several
    utilisation: Decimal | None
    portfolios: list[Portfolio]  # per currency
    notes: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "metric": self.metric,
            "coverage": _text(self.coverage),
            "utilisation": _text(self.utilisation),
            "portfolio_by_currency": [p.as_dict() for p in self.portfolios],
            "commitments": [c.as_dict() for c in self.commitments],
            "idle": [i.as_dict() for i in self.idle],
            "notes": self.notes,
        }


def commitment_report(workspace: Workspace, period: str) -> CommitmentReport:
    """Every recorded commitment's figures for ``period``, the idle cost and the portfolio."""
    month = _period(period)
    recorded = commitments(workspace)
    lines = workspace.data.table(t.COST_LINES)
    first_bill = _first_bill(workspace, lines)
    found = [_figures(workspace, lines, c, month, first_bill) for c in recorded]
    notes = [note for figures in found for note in _notes(figures)]
    notes.extend(_overlaps(workspace, lines, found, month))
    idle = _idle(workspace, lines, month)
    for cost in idle:
        if cost.allocated_to_idle is None:
            notes.append(f"{period} is not allocated yet: where its unused cost goes is not known")
        elif cost.elsewhere != 0:
            notes.append(
                f"{at_least(cost.elsewhere, minor_units(cost.currency))} {cost.currency} of "
                f"unused commitment cost is not allocated to {IDLE}: give it a rule (README: "
                "Commitments) or find it under the rules that claimed it"
            )
    if not recorded:
        notes.append("no commitments recorded: apportion commitment add")
    portfolios = _portfolios(workspace, lines, found, month)
    coverage, utilisation = _lowest(portfolios)
    if len(portfolios) > 1:
        each = "; ".join(
            f"{p.currency}: coverage {_text(p.coverage) or '-'}, utilisation "
            f"{_text(p.utilisation) or '-'}"
            for p in portfolios
        )
        notes.append(
            f"commitments in {len(portfolios)} currencies are not added up: the portfolio's "
            f"coverage and utilisation are each the lowest currency's ({each})"
        )
    return CommitmentReport(
        period=str(month),
        metric=workspace.config.ledger.metric,
        commitments=found,
        idle=idle,
        coverage=coverage,
        utilisation=utilisation,
        portfolios=portfolios,
        notes=notes,
    )


def portfolio_figures(workspace: Workspace, period: str) -> tuple[Decimal | None, Decimal | None]:
    """(coverage, utilisation) over the commitments in ``period``, as fractions, worked out per
    currency (ratios of unlike sums are not added up); with commitments in several currencies
    each figure is the lowest currency's. None where it does not apply in any currency (no
    commitment, no discount commitment for coverage, nothing eligible or committed)."""
    month = _period(period)
    lines = workspace.data.table(t.COST_LINES)
    first_bill = _first_bill(workspace, lines)
    found = [_figures(workspace, lines, c, month, first_bill) for c in commitments(workspace)]
    return _lowest(_portfolios(workspace, lines, found, month))


# -- one commitment ----------------------------------------------------------------------------
def _first_bill(workspace: Workspace, lines: ir.Table) -> Period | None:
    """The earliest billing period the workspace holds a cost line of; None with none."""
    [row] = workspace.data.to_arrow(
        lines.aggregate(first=lines[t.BILLING_PERIOD].min())
    ).to_pylist()
    return None if row["first"] is None else Period.parse(row["first"])


def _figures(
    workspace: Workspace,
    lines: ir.Table,
    commitment: CommitmentView,
    month: Period,
    first_bill: Period | None,
) -> CommitmentFigures:
    """A commitment's figures for ``month``. Months of its term before ``first_bill`` are
    not loaded: they are left out of the burn-down and the projection (which runs from the
    days measured), not counted as months of zero spend."""
    first = Period(commitment.start.year, commitment.start.month)
    last = Period(commitment.end.year, commitment.end.month)
    through = min(month, last)
    scanned = lines.filter(
        (lines[t.BILLING_PERIOD] >= str(min(first, month)))
        & (lines[t.BILLING_PERIOD] <= str(max(through, month)))
    )
    by_period, unit = _scan(workspace, scanned, commitment)
    empty = dict.fromkeys(SUMS, ZERO)
    figures = CommitmentFigures(
        commitment=commitment,
        period=str(month),
        status="not started" if month < first else "ended" if month > last else "active",
        sums=by_period.get(str(month), empty),
        unit=unit,
        share=_share(commitment, month),
        elapsed_days=_elapsed(commitment, month),
    )
    measured_from = first if first_bill is None else max(first, first_bill)
    if measured_from > first:
        figures.unloaded = [str(m) for m in _months(first, min(month, measured_from.previous))]
        start = date(measured_from.year, measured_from.month, 1)
        figures.measured_days = _days_between(start, min(_last_day(month), commitment.end))
    cumulative = ZERO
    for each in _months(measured_from, through):
        sums = by_period.get(str(each), empty)
        drawn = sums["used"] if commitment.is_discount else sums["spent"]
        cumulative = add(cumulative, drawn)
        figures.burn_down.append(
            Burn(str(each), drawn, cumulative, subtract(commitment.amount, cumulative))
        )
    return figures


def _scan(
    workspace: Workspace, lines: ir.Table, commitment: CommitmentView
) -> tuple[dict[str, dict[str, Decimal]], str | None]:
    """One grouped scan: the commitment's sums per billing period, and its unit."""
    scope = _scope(workspace, lines, commitment)
    ours = lines.BillingCurrency == commitment.currency
    status = lines.CommitmentDiscountStatus.lower()
    purchase = (lines.ChargeCategory.lower() == "purchase").fill_null(False)
    usage = (lines.ChargeCategory.lower() == "usage").fill_null(False)
    unused = (status == "unused").fill_null(False)
    if commitment.is_discount:
        mine = (lines.CommitmentDiscountId == commitment.commitment_id).fill_null(False)
        used = mine & (status == "used").fill_null(False) & ~purchase
        spent = ibis.literal(False)
    else:
        mine = ibis.literal(False)
        used = ibis.literal(False)
        spent = scope & ~purchase & _in_term(lines, commitment)
    eligible = scope & usage & ~unused & _in_term(lines, commitment)
    effective, billed = lines.EffectiveCost, lines.BilledCost
    quantity = lines.CommitmentDiscountQuantity
    sums: dict[str, ir.Value] = {
        "used": effective.sum(where=ours & used),
        "unused": effective.sum(where=ours & mine & unused),
        "used_quantity": quantity.sum(where=ours & used),
        "unused_quantity": quantity.sum(where=ours & mine & unused),
        "purchased": billed.sum(
            where=ours & purchase & (mine if commitment.is_discount else scope)
        ),
        "eligible": effective.sum(where=ours & eligible),
        "covered": effective.sum(where=ours & eligible & mine),
        "spent": effective.sum(where=ours & spent),
        "in_scope": (scope & _in_term(lines, commitment)).cast("int64").sum(),
        # lines it would take in, billed in another currency: counted, never mixed in
        "other_currency": (~ours & (mine | scope)).cast("int64").sum(),
    }
    if commitment.is_discount:
        sums["unit"] = lines.CommitmentDiscountUnit.max(where=mine)
        sums["units"] = lines.CommitmentDiscountUnit.nunique(where=mine)
    grouped = lines.group_by(period=lines[t.BILLING_PERIOD]).aggregate(**sums)
    found: dict[str, dict[str, Decimal]] = {}
    units: set[str] = set()
    for row in workspace.data.to_arrow(grouped).to_pylist():
        found[row["period"]] = {name: Decimal(row[name] or 0) for name in SUMS}
        if row.get("unit") is not None:
            units.add(row["unit"] if row["units"] == 1 else SEVERAL)
    return found, (units.pop() if len(units) == 1 else SEVERAL if units else None)


def _scope(workspace: Workspace, lines: ir.Table, commitment: CommitmentView) -> ir.BooleanValue:
    """The lines the commitment covers: its scope expression, else its provider's lines."""
    if commitment.scope is None:
        return (lines.ProviderName == commitment.provider).fill_null(False)
    match = parse_match(commitment.scope)
    return compile_match(match, line_columns(lines, workspace.config.dimensions))


def _in_term(lines: ir.Table, commitment: CommitmentView) -> ir.BooleanValue:
    """Lines charged within the term (ChargePeriodStart from its first day to its last): a
    billing month the term starts or ends in has days outside it."""
    first = datetime(commitment.start.year, commitment.start.month, commitment.start.day)
    after = datetime(commitment.end.year, commitment.end.month, commitment.end.day)
    after += timedelta(days=1)
    charged = lines.ChargePeriodStart
    return ((charged >= first) & (charged < after)).fill_null(False)


def _notes(figures: CommitmentFigures) -> list[str]:
    c = figures.commitment
    notes = []
    if figures.sums["other_currency"]:
        notes.append(
            f"{c.name}: {figures.sums['other_currency']:f} lines of its scope in {figures.period} "
            f"are billed in another currency than {c.currency} and are not counted"
        )
    if c.is_discount and figures.status == "active" and not (figures.used or figures.unused):
        notes.append(
            f"{c.name}: no Used or Unused rows with CommitmentDiscountId {c.commitment_id!r} "
            f"in {figures.period}"
        )
    if figures.unloaded:
        span = figures.unloaded[0] + (
            f" to {figures.unloaded[-1]}" if len(figures.unloaded) > 1 else ""
        )
        notes.append(
            f"{c.name}: its term began {c.start:%Y-%m-%d}, before the first bill loaded: "
            f"{span} are not counted (unknown, not zero spend), and the burn-down and "
            "projection run from the first month loaded; ingest those bills for the whole term"
        )
    if not c.is_discount and figures.status == "active" and not figures.sums["in_scope"]:
        selects = f"its scope {c.scope!r}" if c.scope else f"ProviderName {c.provider!r}"
        notes.append(
            f"{c.name}: no cost line of {figures.period} within its term matches {selects}, so "
            "its spend is 0: check the provider is named as the bills name it, or the scope"
        )
    return notes


def _overlaps(
    workspace: Workspace, lines: ir.Table, found: list[CommitmentFigures], month: Period
) -> list[str]:
    """Two commitments that draw the same spend: both count it, so together they show more
    drawn than was spent. Spend commitments whose scopes select the same lines of the period
    (one scan for every pair), and discount commitments recorded with the same id."""
    active = [f.commitment for f in found if f.status == "active" and f.period not in f.unloaded]
    notes = []
    discounts = [c for c in active if c.is_discount]
    for i, one in enumerate(discounts):
        for other in discounts[i + 1 :]:
            if one.commitment_id == other.commitment_id:
                notes.append(
                    f"{one.name} and {other.name} are both recorded for CommitmentDiscountId "
                    f"{one.commitment_id!r}: each counts its rows, so their use is counted twice"
                )
    spend = [c for c in active if not c.is_discount]
    pairs = [
        (one, other)
        for i, one in enumerate(spend)
        for other in spend[i + 1 :]
        if one.currency == other.currency
    ]
    if not pairs:
        return notes
    in_period = lines.filter(lines[t.BILLING_PERIOD] == str(month))
    purchase = (in_period.ChargeCategory.lower() == "purchase").fill_null(False)

    def drawn(c: CommitmentView) -> ir.BooleanValue:
        ours = (in_period.BillingCurrency == c.currency).fill_null(False)
        return _scope(workspace, in_period, c) & ours & _in_term(in_period, c) & ~purchase

    sums = in_period.aggregate(
        **{
            f"p{k}": in_period.EffectiveCost.sum(where=drawn(one) & drawn(other))
            for k, (one, other) in enumerate(pairs)
        }
    )
    [row] = workspace.data.to_arrow(sums).to_pylist()
    for k, (one, other) in enumerate(pairs):
        shared = Decimal(row[f"p{k}"] or 0)
        if shared:
            notes.append(
                f"{one.name} and {other.name} both draw the same {_exact_in(one.currency)(shared)} "
                f"{one.currency} of spend in {month}: their scopes overlap, so each counts it "
                "and together they show it twice; narrow a scope so each line is drawn once"
            )
    return notes


# -- the period's idle cost and the portfolio --------------------------------------------------
def _idle(workspace: Workspace, lines: ir.Table, month: Period) -> list[IdleCost]:
    metric = workspace.config.ledger.metric
    in_period = lines.filter(lines[t.BILLING_PERIOD] == str(month))
    unused = (in_period.CommitmentDiscountStatus.lower() == "unused").fill_null(False)
    grouped = in_period.filter(unused).group_by(currency=in_period.BillingCurrency)
    rows = workspace.data.to_arrow(grouped.aggregate(amount=in_period[metric].sum())).to_pylist()
    if not rows:
        return []
    statement = stated_lines(workspace, str(month))
    # a shared cluster's idle capacity is __idle__ too, but it is no commitment's
    capacity = {
        rule.name
        for rule in workspace.config.rules
        if isinstance(rule, ProportionalRule) and rule.idle is not None
    }
    idle: dict[str, Decimal] = {}
    count: dict[str, int] = {}
    for line in statement or []:
        if line.workload == IDLE and line.rule not in capacity:
            idle[line.currency] = add(idle.get(line.currency, ZERO), line.amount)
            count[line.currency] = count.get(line.currency, 0) + 1
    return [
        IdleCost(
            currency=row["currency"],
            unused=Decimal(row["amount"] or 0),
            allocated_to_idle=None if statement is None else idle.get(row["currency"], ZERO),
            idle_lines=count.get(row["currency"], 0),
        )
        for row in sorted(rows, key=lambda r: r["currency"])
    ]


def _portfolios(
    workspace: Workspace, lines: ir.Table, found: list[CommitmentFigures], month: Period
) -> list[Portfolio]:
    """Coverage and utilisation per currency of the commitments."""
    by_currency: dict[str, list[CommitmentFigures]] = {}
    for figures in found:
        by_currency.setdefault(figures.commitment.currency, []).append(figures)
    portfolios = []
    for currency, members in sorted(by_currency.items()):
        parts = [part for f in members if (part := f.portfolio_part()) is not None]
        utilisation = _ratio(exact_sum(u for u, _ in parts), exact_sum(c for _, c in parts))
        coverage = _coverage(workspace, lines, [f.commitment for f in members], month)
        portfolios.append(Portfolio(currency, coverage, utilisation))
    return portfolios


def _lowest(portfolios: list[Portfolio]) -> tuple[Decimal | None, Decimal | None]:
    """Each figure's lowest over the currencies where it applies."""
    coverages = [p.coverage for p in portfolios if p.coverage is not None]
    utilisations = [p.utilisation for p in portfolios if p.utilisation is not None]
    return min(coverages, default=None), min(utilisations, default=None)


def _coverage(
    workspace: Workspace, lines: ir.Table, recorded: Iterable[CommitmentView], month: Period
) -> Decimal | None:
    """Eligible usage in any discount commitment's scope, and the part a commitment covered;
    a line two scopes select counts once."""
    discounts = [c for c in recorded if c.is_discount]
    if not discounts:
        return None
    in_period = lines.filter(lines[t.BILLING_PERIOD] == str(month))
    scoped = ibis.or_(
        *(
            _scope(workspace, in_period, c)
            & (in_period.BillingCurrency == c.currency)
            & _in_term(in_period, c)
            for c in discounts
        )
    )
    usage = (in_period.ChargeCategory.lower() == "usage").fill_null(False)
    unused = (in_period.CommitmentDiscountStatus.lower() == "unused").fill_null(False)
    eligible = scoped & usage & ~unused
    covered = eligible & in_period.CommitmentDiscountId.notnull()
    sums = in_period.aggregate(
        eligible=in_period.EffectiveCost.sum(where=eligible),
        covered=in_period.EffectiveCost.sum(where=covered),
    )
    [row] = workspace.data.to_arrow(sums).to_pylist()
    return _ratio(Decimal(row["covered"] or 0), Decimal(row["eligible"] or 0))


# -- days, months and numbers -----------------------------------------------------------------
def _period(text: str) -> Period:
    month = Period.parse(text)
    if month.year < 1:
        raise CommitmentError(f"period {text!r} is before year 1")
    return month


def _last_day(month: Period) -> date:
    return date(month.year, month.month, calendar.monthrange(month.year, month.month)[1])


def _days_between(first: date, last: date) -> int:
    return max((last - first).days + 1, 0)


def _elapsed(commitment: CommitmentView, month: Period) -> int:
    """Days of the term up to the end of ``month``."""
    return _days_between(commitment.start, min(_last_day(month), commitment.end))


def _share(commitment: CommitmentView, month: Period) -> Decimal:
    """The amount spread evenly over the term's days: the part that falls in ``month``."""
    first = max(commitment.start, date(month.year, month.month, 1))
    days = _days_between(first, min(_last_day(month), commitment.end))
    return EXACT.divide(EXACT.multiply(commitment.amount, Decimal(days)), commitment.term_days)


def _months(first: Period, last: Period) -> list[Period]:
    found = []
    month = first
    while month <= last:
        found.append(month)
        month = month.next
    return found


def _ratio(amount: Decimal, over: Decimal) -> Decimal | None:
    """A ratio as the report shows it: exact, to 10 places."""
    found = ratio(amount, over)
    return None if found is None else found.quantize(PLACES, context=EXACT)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:f}"


def _count(value: Decimal) -> str:
    return f"{value.normalize():f}" if value else "0"


def _exact_in(currency: str) -> Callable[[Decimal | None], str | None]:
    """Amounts of the currency as text, every digit and at least its minor unit (None stays)."""
    places = minor_units(currency)

    def exact_text(value: Decimal | None) -> str | None:
        return None if value is None else at_least(value, places)

    return exact_text
