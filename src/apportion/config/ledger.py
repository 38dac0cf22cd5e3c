"""The ledger part of apportion.yaml: who pays, which categories are charged back from when,
and the accounts chargeback journal entries post to (MISSION R4)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from apportion.periods import Period, PeriodError
from apportion.schema import columns as col
from apportion.schema.tables import UNALLOCATED

ALL_CATEGORIES = "*"
SHOWBACK = "showback"
CHARGEBACK = "chargeback"
NOT_CHARGED = "unallocated"  # the mode of __unallocated__ lines: nobody to show or charge


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChargeMode(_Strict):
    """From ``effective_from`` on, the lines of ``category`` (``*``: every category), for
    every payer or only for ``payer``, are shown back or charged back. The most specific entry
    wins: a payer's over everyone's, a named category over ``*``, a later start over an
    earlier one."""

    category: str = Field(description="A cost category, or * for every category")
    mode: Literal["showback", "chargeback"]
    effective_from: str = Field(description="The first period (YYYY-MM) this applies to")
    payer: str | None = Field(
        default=None, description="Only this value of the payer dimension (a cost centre)"
    )

    @field_validator("effective_from")
    @classmethod
    def _is_period(cls, value: str) -> str:
        try:
            return str(Period.parse(value))
        except PeriodError as exc:
            raise ValueError(str(exc)) from exc

    def applies(self, category: str, payer: str, period: str) -> bool:
        return (
            self.effective_from <= period
            and self.category in (category, ALL_CATEGORIES)
            and self.payer in (None, payer)
        )

    @property
    def specificity(self) -> tuple[bool, bool, str]:
        return (self.payer is not None, self.category != ALL_CATEGORIES, self.effective_from)


class Accounts(_Strict):
    """The general-ledger accounts of a chargeback entry: each payer's expense account is
    debited, the AI platform's recovery account credited."""

    expense: str = Field(default="6400", description="Expense account debited by default")
    expense_by_payer: dict[str, str] = Field(
        default_factory=dict, description="A payer's own expense account, by payer value"
    )
    recovery: str = Field(default="4900", description="The AI platform's recovery account")

    def expense_for(self, payer: str) -> str:
        return self.expense_by_payer.get(payer, self.expense)


class LedgerConfig(_Strict):
    payer: str = Field(
        default="cost_centre", description="The dimension that receives statements and pays"
    )
    workload: str = Field(
        default="use_case", description="The dimension statement lines are itemised by"
    )
    metric: Literal["EffectiveCost", "BilledCost", "ListCost", "ContractedCost"] = Field(
        default=col.EFFECTIVE_COST,
        description="The cost metric statements show and chargeback posts (FOCUS recommends "
        "EffectiveCost: amortised, after discounts)",
    )
    modes: list[ChargeMode] = Field(
        default_factory=list, description="Showback unless an entry here says chargeback"
    )
    accounts: Accounts = Accounts()

    @field_validator("modes")
    @classmethod
    def _no_conflicting_entries(cls, value: list[ChargeMode]) -> list[ChargeMode]:
        seen: dict[tuple[str, str | None, str], str] = {}
        for entry in value:
            key = (entry.category, entry.payer, entry.effective_from)
            if key in seen:
                whose = f" for {entry.payer}" if entry.payer else ""
                raise ValueError(
                    f"two modes for {entry.category}{whose} from {entry.effective_from}: keep one"
                )
            seen[key] = entry.mode
        return value

    def mode(self, category: str, payer: str, period: str) -> str:
        """showback, chargeback, or unallocated for the lines no payer owns."""
        if payer == UNALLOCATED:
            return NOT_CHARGED
        applicable = [entry for entry in self.modes if entry.applies(category, payer, period)]
        if not applicable:
            return SHOWBACK
        return max(applicable, key=lambda entry: entry.specificity).mode
