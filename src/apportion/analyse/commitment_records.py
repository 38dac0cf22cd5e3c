"""Vendor commitments as recorded (MISSION R6.5): reserved capacity, committed-use contracts,
provider prepaid credits and enterprise discounts, each with its amount, term, provider and the
cost lines it covers. Recording one is checked here (one clear error for bad input) and
written to the control plane with its audit entry in one transaction.

- ``scope``: a match expression (apportion.rules.expr, parsed and whitelisted, never
  evaluated) selecting the cost lines the commitment covers; without one, the lines whose
  ProviderName is the commitment's provider.
- ``commitment_id``: the bills' CommitmentDiscountId, for commitments the provider reports in
  the FOCUS commitment columns (Used / Unused rows); without one the commitment is a spend
  commitment, measured by the spend in its scope.
- The term runs from ``start`` to ``end``, both days included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal, get_args

from sqlalchemy import select

from apportion.control import audit
from apportion.control.models import Commitment
from apportion.errors import UsageError
from apportion.money import at_least
from apportion.rules.columns import check_names, compile_match, line_columns
from apportion.rules.expr import MatchError, parse_match
from apportion.schema import tables as t
from apportion.schema.currency import ISO_4217, minor_units
from apportion.workspace import Workspace

Kind = Literal["reserved", "committed-use", "prepaid-credit", "enterprise-discount"]
KINDS: tuple[str, ...] = get_args(Kind)  # the one list: the API's field type is Kind
MAX_AMOUNT = Decimal(10) ** 18  # far above any contract; keeps sums inside DECIMAL(38, 18)
_TEXT = re.compile(r"^[^\x00-\x1f\x7f]+$")  # names are shown in tables and logs: no controls


class CommitmentError(UsageError):
    """A commitment that cannot be recorded as given (bad input)."""


@dataclass(frozen=True)
class CommitmentView:
    id: int
    name: str
    kind: str
    provider: str
    amount: Decimal
    currency: str
    start: date
    end: date
    scope: str | None
    commitment_id: str | None
    created_at: datetime
    created_by: str

    @property
    def term_days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def is_discount(self) -> bool:
        """Reported in the FOCUS commitment columns (Used / Unused rows), not by spend."""
        return self.commitment_id is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "provider": self.provider,
            "amount": at_least(self.amount, minor_units(self.currency)),
            "currency": self.currency,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "scope": self.scope,
            "commitment_id": self.commitment_id,
            "created_at": audit.aware(self.created_at).isoformat(),
            "created_by": self.created_by,
        }


def add_commitment(
    workspace: Workspace,
    *,
    name: str,
    kind: str,
    provider: str,
    amount: Decimal,
    currency: str,
    start: date,
    end: date,
    actor: str,
    scope: str | None = None,
    commitment_id: str | None = None,
) -> CommitmentView:
    """Record a commitment; :class:`CommitmentError` says what is wrong with the input."""
    name = _text("name", name, 200)
    provider = _text("provider", provider, 200)
    currency = _currency(currency)
    amount = _amount(amount, currency)
    if kind not in KINDS:
        raise CommitmentError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    if end < start:
        raise CommitmentError(f"the term ends ({end}) before it starts ({start})")
    scope = _scope(workspace, scope)
    commitment_id = _text("commitment id", commitment_id, 400) if commitment_id else None
    with workspace.control.transaction() as session:
        if session.scalars(select(Commitment).where(Commitment.name == name)).first():
            raise CommitmentError(f"a commitment named {name!r} is already recorded")
        if commitment_id is not None:
            same = session.scalars(
                select(Commitment).where(Commitment.commitment_id == commitment_id)
            ).first()
            if same is not None:
                # two records of one CommitmentDiscountId would count its rows twice
                raise CommitmentError(
                    f"commitment id {commitment_id!r} is already recorded as {same.name!r}"
                )
        record = Commitment(
            name=name,
            kind=kind,
            provider=provider,
            amount=amount,
            currency=currency,
            start=start,
            end=end,
            scope=scope,
            commitment_id=commitment_id,
            created_at=datetime.now(UTC),
            created_by=actor,
        )
        session.add(record)
        session.flush()
        view = _view(record)
        audit.record(session, actor, "commitment.add", f"commitment {name}", **view.as_dict())
    return view


def commitments(workspace: Workspace) -> list[CommitmentView]:
    """Every recorded commitment, in the order they were recorded."""
    with workspace.control.reading() as session:
        return [_view(row) for row in session.scalars(select(Commitment).order_by(Commitment.id))]


def _view(row: Commitment) -> CommitmentView:
    return CommitmentView(
        id=row.id,
        name=row.name,
        kind=row.kind,
        provider=row.provider,
        amount=row.amount,
        currency=row.currency,
        start=row.start,
        end=row.end,
        scope=row.scope,
        commitment_id=row.commitment_id,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _text(what: str, value: str | None, longest: int) -> str:
    found = (value or "").strip()
    if not found:
        raise CommitmentError(f"give the commitment's {what}")
    if len(found) > longest or not _TEXT.match(found):
        raise CommitmentError(
            f"the {what} must be at most {longest} characters, without control characters"
        )
    return found


def _currency(value: str) -> str:
    found = value.strip().upper()
    if found not in ISO_4217:
        raise CommitmentError(f"{value!r} is not an ISO 4217 currency code")
    return found


def _amount(value: Decimal, currency: str) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise CommitmentError("the amount must be a number above 0")
    if value >= MAX_AMOUNT:
        raise CommitmentError(f"the amount must be below {MAX_AMOUNT:f}")
    places = minor_units(currency)
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        # a contract is written in the currency's minor units; more digits is a typo
        raise CommitmentError(f"{value:f} has more decimals than {currency}'s {places}")
    return value


def _scope(workspace: Workspace, scope: str | None) -> str | None:
    if scope is None or not scope.strip():
        return None
    dimensions = workspace.config.dimensions
    try:
        match = parse_match(scope)
        check_names(match, dimensions)
        # compiled against the bills' columns now (nothing runs): a comparison of unlike
        # types is refused here, not in every later report
        compile_match(match, line_columns(workspace.data.table(t.COST_LINES), dimensions))
    except MatchError as exc:
        raise CommitmentError(f"scope: {exc}") from None
    return scope.strip()
