"""Explanations of the monthly review (MISSION R6.1): the owner of a line that moved beyond its
threshold says why. Each one is kept; the latest for a line is the one the review shows. The
CLI, REST API and web UI all record through ``explain``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from apportion.control import audit
from apportion.control.models import Explanation
from apportion.control.plane import ControlPlane
from apportion.errors import UsageError
from apportion.periods import Period

MAX_TEXT = 4000
# text a person typed: line breaks and tabs are fine, other control characters are not
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# what a review line is: payer, workload, category (or * for the use case's total), currency
ItemKey = tuple[str, str, str, str]


class ExplanationError(UsageError):
    """An explanation that cannot be recorded as given (bad usage: exit code 2)."""


@dataclass(frozen=True)
class ExplanationView:
    actual: Decimal  # the line's amount when it was explained
    text: str
    explained_by: str
    explained_at: datetime
    earlier: int  # how many explanations of the same line it supersedes

    def as_dict(self) -> dict[str, Any]:
        return {
            "actual": f"{self.actual:f}",
            "text": self.text,
            "explained_by": self.explained_by,
            "explained_at": self.explained_at.isoformat(),
            "earlier": self.earlier,
        }


def record(
    control: ControlPlane, period: str, key: ItemKey, actual: Decimal, text: str, actor: str
) -> None:
    """Keep ``text`` as the explanation of the line ``key`` of ``period`` as it stands at
    ``actual``, and say so in the audit log. The caller checks that the line is one of the
    period's review lines."""
    Period.parse(period)
    text = _checked(text)
    payer, workload, category, currency = key
    with control.transaction() as session:
        session.add(
            Explanation(
                period=period,
                payer=payer,
                workload=workload,
                category=category,
                currency=currency,
                actual=actual,
                text=text,
                explained_by=actor,
                explained_at=datetime.now(UTC),
            )
        )
        audit.record(
            session,
            actor,
            "review.explain",
            f"{period}/{payer}/{workload}/{category}/{currency}",
            cost_centre=payer,
            use_case=workload,
            category=category,
            currency=currency,
            actual=f"{actual:f}",
            text=text,
        )


def latest(control: ControlPlane, period: str) -> dict[ItemKey, ExplanationView]:
    """The period's explanations, the latest per line."""
    query = select(Explanation).where(Explanation.period == period).order_by(Explanation.id)
    found: dict[ItemKey, ExplanationView] = {}
    with control.reading() as session:
        for row in session.scalars(query):
            key = (row.payer, row.workload, row.category, row.currency)
            before = found.get(key)
            found[key] = ExplanationView(
                actual=row.actual,
                text=row.text,
                explained_by=row.explained_by,
                explained_at=audit.aware(row.explained_at),
                earlier=0 if before is None else before.earlier + 1,
            )
    return found


def _checked(text: str) -> str:
    text = text.strip()
    if not text:
        raise ExplanationError("an explanation needs some text: say why the line moved")
    if len(text) > MAX_TEXT:
        raise ExplanationError(f"an explanation is at most {MAX_TEXT} characters")
    if _CONTROL.search(text):
        raise ExplanationError("an explanation may not contain control characters")
    return text
