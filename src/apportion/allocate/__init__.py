"""Rules -> pools -> allocations, with lineage and the conservation check."""

from apportion.allocate.conservation import ConservationError
from apportion.allocate.periods import Period, PeriodError
from apportion.allocate.run import AllocationError, RunResult, allocate_period

__all__ = [
    "AllocationError",
    "ConservationError",
    "Period",
    "PeriodError",
    "RunResult",
    "allocate_period",
]
