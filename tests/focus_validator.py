"""The FinOps Foundation's focus-validator (FOCUS 1.2 rules, offline), for tests marked
``focus_validator``.

The validator runs through the repository's ``tools/focus-validate`` script, which keeps it in
a virtualenv of its own (it needs Python 3.12), or the script ``APPORTION_FOCUS_VALIDATE``
names. Where it cannot run the test is skipped, except on CI (``CI`` set), where that is a
failure: CI must judge the FOCUS we write.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[1]
_SCRIPT = REPO / "tools" / "focus-validate"
_SUMMARY = re.compile(r"^Total: \d+ \| Pass: \d+ \| Fail: \d+ \| Skipped: \d+$", re.MULTILINE)
_TIMEOUT_S = 900  # its first run installs the validator


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"focus-validator: {reason} (CI must run it)")
    pytest.skip(f"focus-validator: {reason}")


def validator() -> Path:
    """The focus-validate script; skips (fails on CI) when there is none."""
    named = os.environ.get("APPORTION_FOCUS_VALIDATE")
    if named:
        if not os.access(named, os.X_OK):
            pytest.fail(f"APPORTION_FOCUS_VALIDATE={named} is not an executable file")
        return Path(named)
    if not os.access(_SCRIPT, os.X_OK):
        _unavailable(f"{_SCRIPT} is not executable (or set APPORTION_FOCUS_VALIDATE)")
    return _SCRIPT


def failing_rules(path: Path) -> set[str]:
    """The ids of the FOCUS 1.2 rules a CSV or Parquet file fails. The validator's report is
    checked for its summary, so a run that judged nothing is never read as a pass."""
    script = validator()
    with tempfile.TemporaryDirectory() as work:
        log = Path(work) / "focus-validator.log"
        done = subprocess.run(
            [str(script), str(path), "--failed"],
            env={**os.environ, "FV_LOG": str(log)},
            capture_output=True,
            text=True,
            timeout=_TIMEOUT_S,
            check=False,
        )
        report = log.read_text(encoding="utf-8") if log.exists() else ""
    if done.returncode != 0:
        _unavailable(f"could not run ({done.returncode}): {done.stdout.strip()[-500:]}")
    summary = _SUMMARY.search(report)
    if summary is None:
        pytest.fail(f"focus-validator judged nothing; its report ends:\n{report[-2000:]}")
    print(f"focus-validator on {path.name}: {summary.group(0)}")
    return {line.strip() for line in done.stdout.splitlines() if line.strip()}
