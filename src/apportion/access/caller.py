"""The caller of a request: a token's name and role, and for a consumer the cost centres it
was granted. Every query that serves a request filters by it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ADMIN = "admin"  # everything, period close and dispute decisions included
ANALYST = "analyst"  # reads everything, decides nothing
CONSUMER = "consumer"  # reads and disputes the cost centres granted to it, nothing else
ROLES = (ADMIN, ANALYST, CONSUMER)


@dataclass(frozen=True)
class Caller:
    token_id: int | None
    name: str
    role: str
    # the cost centres (values of the ledger's payer dimension) a consumer may see; None for
    # roles that see every one
    payers: frozenset[str] | None

    @property
    def actor(self) -> str:
        """How the audit log names what this caller does."""
        return f"token:{self.name}"

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    def sees_everything(self) -> bool:
        return self.payers is None

    def may_see(self, payer: str) -> bool:
        return self.payers is None or payer in self.payers

    def visible(self, payers: Iterable[str]) -> list[str]:
        """Those of ``payers`` this caller may see, in their order."""
        return [payer for payer in payers if self.may_see(payer)]

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "role": self.role,
            "cost_centres": None if self.payers is None else sorted(self.payers),
        }
