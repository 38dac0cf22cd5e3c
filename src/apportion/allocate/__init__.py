"""Rules -> pools -> allocations, with lineage and the conservation check."""

from apportion.allocate.conservation import ConservationError
from apportion.allocate.run import AllocationError, RunResult, allocate_period
from apportion.periods import Period, PeriodError

__all__ = [
    "AllocationError",
    "ConservationError",
    "Period",
    "PeriodError",
    "RunResult",
    "allocate_period",
]
