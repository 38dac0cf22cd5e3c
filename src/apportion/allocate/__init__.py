"""Rules -> pools -> allocations, with lineage and the conservation check: the planner. The
run that records an allocation in the ledger is apportion.ledger.allocation."""

from apportion.allocate.conservation import ConservationError
from apportion.allocate.plan import AllocationError
from apportion.periods import Period, PeriodError

__all__ = [
    "AllocationError",
    "ConservationError",
    "Period",
    "PeriodError",
]
