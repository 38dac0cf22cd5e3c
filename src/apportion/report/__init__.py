"""Reports over the published allocation of a period: totals and statements."""

from apportion.ledger.grain import StatementLine, statements
from apportion.report.totals import MetricTotals, PeriodTotals, totals

__all__ = ["MetricTotals", "PeriodTotals", "StatementLine", "statements", "totals"]
