"""A period is a billing month (the month of BillingPeriodStart): what invoices reconcile to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from apportion.errors import UsageError


class PeriodError(UsageError):
    pass


@dataclass(frozen=True, order=True)
class Period:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        found = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
        if not found or not 1 <= int(found.group(2)) <= 12:
            raise PeriodError(f"period {text!r} is not a month written as YYYY-MM")
        return cls(int(found.group(1)), int(found.group(2)))

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1)

    @property
    def end(self) -> datetime:
        return datetime(self.year + self.month // 12, self.month % 12 + 1, 1)

    @property
    def next(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    @property
    def previous(self) -> Period:
        return Period(self.year, self.month - 1) if self.month > 1 else Period(self.year - 1, 12)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"
