"""What an allocation run publishes, and what it must not: an empty period, or a run the
control plane never recorded as published."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from apportion.allocate import AllocationError
from apportion.cli import app
from apportion.ledger.allocation import allocate_period
from tests.helpers import ingest, make_workspace, write_focus

pytestmark = pytest.mark.usefixtures("engine")

TAGGED = "rules:\n  - {name: tagged, match: \"tags['use_case'] IS NOT NULL\", method: direct}\n"


def test_a_period_with_no_cost_lines_is_refused_before_a_run_is_recorded(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", TAGGED)
    ingest(ws, write_focus(tmp_path / "bill.csv", [{"BilledCost": "5", "Tags": {"use_case": "a"}}]))
    with pytest.raises(
        AllocationError, match=r"period 2026-09 has no cost lines.*apportion ingest"
    ):
        allocate_period(ws, "2026-09")
    assert ws.control.runs("2026-09") == []
    assert ws.control.published_run("2026-09") is None
    assert allocate_period(ws, "2026-10").published  # a month with bills still allocates


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_cli_refuses_an_empty_period_with_exit_2_and_one_line(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    runner = CliRunner()
    assert runner.invoke(app, ["--workspace", str(root), "init"]).exit_code == 0
    result = runner.invoke(app, ["--workspace", str(root), "allocate", "--period", "2026-09"])
    assert result.exit_code == 2, result.output
    assert "period 2026-09 has no cost lines" in result.output
    assert "Traceback" not in result.output


def test_a_run_written_but_never_recorded_as_published_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash after the data plane commits a run and before the control plane records it:
    no reader may show that run's figures under the published run's id, and review refuses
    (README: a crash leaves no half-truth)."""
    from apportion.ledger import periods
    from apportion.ledger.periods import start_review
    from apportion.ledger.published import (
        UnpublishedRowsError,
        final_allocations,
        review_period,
    )
    from apportion.periods import Period
    from tests.helpers import billed_by

    ws = make_workspace(tmp_path / "ws", TAGGED)
    ingest(ws, write_focus(tmp_path / "a.csv", [{"BilledCost": "5", "Tags": {"use_case": "a"}}]))
    first = allocate_period(ws, "2026-10")
    assert billed_by(ws, "use_case") == {"a": 5}
    ingest(ws, write_focus(tmp_path / "b.csv", [{"BilledCost": "7", "Tags": {"use_case": "b"}}]))

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the control plane went away")

    with monkeypatch.context() as patch:
        patch.setattr(periods, "record_published", crash)
        with pytest.raises(RuntimeError):
            allocate_period(ws, "2026-10")
    assert ws.control.published_run("2026-10").run_id == first.run_id  # type: ignore[union-attr]
    with pytest.raises(UnpublishedRowsError, match=r"never published.*apportion allocate"):
        final_allocations(ws, Period.parse("2026-10"))
    with pytest.raises(UnpublishedRowsError):
        review_period(ws, Period.parse("2026-10"), "alice")
    # allocating again publishes the current bills, and reading works again
    again = allocate_period(ws, "2026-10")
    assert again.published and billed_by(ws, "use_case") == {"a": 5, "b": 7}
    assert start_review(ws.control, "2026-10", "alice").state == "in_review"


CHILD = """
import sys, time
from pathlib import Path
from apportion.workspace import Workspace

ws = Workspace.open(Path(sys.argv[1]))
with ws.run_lease("2026-10-killed"):
    ws.control.start_run("2026-10-killed", "2026-10", "x" * 64)
    print("running", flush=True)
    time.sleep(120)
"""


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_a_run_whose_process_was_killed_is_marked_failed_on_the_next_open(
    tmp_path: Path,
) -> None:
    import signal
    import subprocess
    import sys

    from apportion.workspace import Workspace

    ws = make_workspace(tmp_path / "ws", TAGGED)
    ws.close()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path / "ws")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "running"
        alive = Workspace.open(tmp_path / "ws")
        # its process holds the lease: still running, not touched
        assert [r.status for r in alive.control.runs("2026-10")] == ["running"]
        alive.close()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    after = Workspace.open(tmp_path / "ws")
    [run] = after.control.runs("2026-10")
    after.close()
    assert run.status == "failed"
    assert run.message and "ended before it finished" in run.message
