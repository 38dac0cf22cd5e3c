"""Enforcement at provisioning time: would these resources be created with the tags the policy
requires? (``apportion tags check``; the admission webhook asks the same of one object.)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apportion.tags.policy import Reading, TagPolicy
from apportion.tags.resources import Found, Resource, read_resources


@dataclass(frozen=True)
class Verdict:
    """What the policy says of one resource."""

    resource: Resource
    reading: Reading

    @property
    def passed(self) -> bool:
        return not self.reading.violations

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.resource.file,
            "address": self.resource.address,
            "type": self.resource.kind,
            "passed": self.passed,
            "problems": [v.describe() for v in self.reading.violations],
            "missing": [v.dimension for v in self.reading.violations if v.problem == "missing"],
            "invalid": {
                v.dimension: v.value for v in self.reading.violations if v.problem == "invalid"
            },
            "values": self.reading.values,
            "renamed": self.reading.renamed,
            "unchecked": list(self.reading.unchecked),
        }


@dataclass
class CheckResult:
    verdicts: list[Verdict] = field(default_factory=list)
    files: list[Found] = field(default_factory=list)

    @property
    def failed(self) -> list[Verdict]:
        return [f for f in self.verdicts if not f.passed]

    @property
    def passed(self) -> bool:
        return not self.failed

    def notes(self) -> list[str]:
        notes = [note for found in self.files for note in found.notes()]
        renamed = sorted({(k, d) for f in self.verdicts for k, d in f.reading.renamed.items()})
        notes += [f"tag key {key!r} read as {dimension}" for key, dimension in renamed]
        return notes

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "checked": len(self.verdicts),
            "failed": len(self.failed),
            "files": [{"file": f.file, "format": f.format} for f in self.files],
            "resources": [f.as_dict() for f in self.verdicts],
            "notes": self.notes(),
        }


def check_files(paths: Sequence[Path], policy: TagPolicy) -> CheckResult:
    """Every file is read before any is judged: one unreadable file is an error for the whole
    check (exit code 2), never a silent pass."""
    result = CheckResult()
    result.files = [read_resources(path) for path in paths]
    for found in result.files:
        for resource in found.resources:
            result.verdicts.append(Verdict(resource, policy.read(resource.tags)))
    return result
