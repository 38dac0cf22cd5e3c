"""The errors that mean "bad input or bad usage" (exit code 2), gathered in one place."""

from __future__ import annotations

from apportion.allocate.periods import PeriodError
from apportion.allocate.run import AllocationError
from apportion.config.loader import ConfigError
from apportion.engine import StorageMismatch
from apportion.engine.dataplane import FileError
from apportion.export.focus import ExportError
from apportion.report.published import NotAllocatedError
from apportion.report.statements import StatementError
from apportion.rules.expr import MatchError
from apportion.workspace import WorkspaceError

USAGE_ERRORS: tuple[type[Exception], ...] = (
    AllocationError,
    ConfigError,
    ExportError,
    FileError,
    MatchError,
    NotAllocatedError,
    PeriodError,
    StatementError,
    StorageMismatch,
    WorkspaceError,
)
