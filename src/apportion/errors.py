"""The errors the CLI turns into one clear line: bad input or usage (exit code 2), and work that
could not be done now (exit code 1), gathered in one place."""

from __future__ import annotations

from apportion.allocate.run import AllocationError
from apportion.config.loader import ConfigError
from apportion.engine import StorageError, StoreError
from apportion.engine.dataplane import FileError
from apportion.export.focus import ExportError
from apportion.periods import PeriodError
from apportion.pull import PullError, PullSetupError
from apportion.report.published import NotAllocatedError
from apportion.report.statements import StatementError
from apportion.rules.expr import MatchError
from apportion.tags.documents import DocumentError
from apportion.workspace import WorkspaceError

USAGE_ERRORS: tuple[type[Exception], ...] = (
    AllocationError,
    ConfigError,
    DocumentError,
    ExportError,
    FileError,
    MatchError,
    NotAllocatedError,
    PeriodError,
    PullSetupError,
    StatementError,
    StorageError,
    WorkspaceError,
)

# the work failed for a reason outside the input: running it again may succeed
WORK_ERRORS: tuple[type[Exception], ...] = (PullError, StoreError)
