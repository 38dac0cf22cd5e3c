"""Tag governance: the policy, how keys and values fold to canonical form, the catalogue, and
enforcement at provisioning time."""

from __future__ import annotations

from apportion.tags.check import CheckResult, Verdict, check_files
from apportion.tags.documents import DocumentError
from apportion.tags.policy import TagPolicy, Violation, load_policy

__all__ = [
    "CheckResult",
    "DocumentError",
    "TagPolicy",
    "Verdict",
    "Violation",
    "check_files",
    "load_policy",
]
