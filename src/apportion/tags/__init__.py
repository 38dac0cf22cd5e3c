"""Tag governance: the policy, how keys and values fold to canonical form, the catalogue, and
enforcement at provisioning time."""

from __future__ import annotations

from pathlib import Path

from apportion.config.models import Config
from apportion.tags.catalogue import read_catalogue, values_by_dimension
from apportion.tags.check import CheckResult, Finding, check_files
from apportion.tags.documents import DocumentError
from apportion.tags.policy import TagPolicy, Violation


def load_policy(config: Config, base: Path) -> TagPolicy:
    """The policy of a configuration; a catalogue path is relative to ``base`` (the folder of
    apportion.yaml)."""
    catalogue: dict[str, list[str]] = {}
    if config.tags.catalogue:
        path = base / config.tags.catalogue
        catalogue = values_by_dimension(read_catalogue(path, config.dimensions))
    return TagPolicy.from_config(config.tags, config.dimensions, catalogue)


__all__ = [
    "CheckResult",
    "DocumentError",
    "Finding",
    "TagPolicy",
    "Violation",
    "check_files",
    "load_policy",
]
