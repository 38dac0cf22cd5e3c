"""The errors the CLI turns into one clear line: bad input or usage (exit code 2), and work that
could not be done now (exit code 1), gathered in one place."""

from __future__ import annotations

from apportion.access.tokens import AccessError
from apportion.allocate.run import AllocationError
from apportion.analyse.commitment_records import CommitmentError
from apportion.analyse.explanations import ExplanationError
from apportion.analyse.forecast_input import ForecastError
from apportion.analyse.projections import ProjectionError
from apportion.config.loader import ConfigError
from apportion.engine import EngineBusyError, StorageError, StoreError
from apportion.engine.dataplane import FileError
from apportion.export.focus import ExportError
from apportion.ledger.close import CloseRefusedError
from apportion.ledger.disputes import DisputeError
from apportion.ledger.journal import JournalError
from apportion.ledger.periods import ConcurrentChangeError, PeriodStateError
from apportion.ledger.seal import LedgerKeyError
from apportion.ledger.statement import StatementNotFoundError
from apportion.periods import PeriodError
from apportion.pull import PullError, PullSetupError
from apportion.report.published import NotAllocatedError
from apportion.report.statements import StatementError
from apportion.rules.expr import MatchError
from apportion.tags.documents import DocumentError
from apportion.workspace import WorkspaceError

USAGE_ERRORS: tuple[type[Exception], ...] = (
    AccessError,
    AllocationError,
    CloseRefusedError,
    CommitmentError,
    ConfigError,
    DisputeError,
    DocumentError,
    ExplanationError,
    ExportError,
    FileError,
    ForecastError,
    JournalError,
    LedgerKeyError,
    MatchError,
    NotAllocatedError,
    PeriodError,
    PeriodStateError,
    ProjectionError,
    PullSetupError,
    StatementError,
    StatementNotFoundError,
    StorageError,
    WorkspaceError,
)

# the work failed for a reason outside the input: running it again may succeed
# (someone else changed the same period or dispute first)
WORK_ERRORS: tuple[type[Exception], ...] = (
    ConcurrentChangeError,
    EngineBusyError,
    PullError,
    StoreError,
)
