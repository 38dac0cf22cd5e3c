"""Quarantine is visible with its money: every cost metric's refused amount per currency,
`apportion quarantine list|show`, and the money (not only the rows) in totals and ingest."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal as D
from pathlib import Path

import pytest
from typer.testing import CliRunner

from apportion.cli import app
from apportion.ingest.quarantine import by_file, money_at_stake, quarantined
from tests.helpers import allocate, ingest, make_workspace, period_totals, write_focus

pytestmark = pytest.mark.usefixtures("engine")

RULES = "rules:\n  - {name: tagged, match: \"tags['use_case'] IS NOT NULL\", method: direct}\n"


def _bill(tmp_path: Path) -> Path:
    """One good line; three refused: a bad BilledCost, an unknown currency, and a bad time
    (whose month cannot be read)."""
    return write_focus(
        tmp_path / "bill.csv",
        [
            {"BilledCost": "5", "EffectiveCost": "5", "Tags": {"use_case": "bot"}},
            {
                "BilledCost": "12,5O",
                "EffectiveCost": "3.25",
                "ListCost": "4",
                "ContractedCost": "1",
            },
            {"BilledCost": "7.25", "EffectiveCost": "7", "ListCost": "8", "BillingCurrency": "ZZZ"},
            {
                "BilledCost": "2",
                "EffectiveCost": "1.5",
                "ListCost": "2.5",
                "ContractedCost": "0.000000000000000001",
                "ChargePeriodStart": "not a time",
                "BillingPeriodStart": "",
            },
        ],
    )


def test_every_cost_metric_of_a_refused_row_is_kept_and_summed(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", RULES)
    ingest(ws, _bill(tmp_path))
    rows = quarantined(ws.data)
    assert [(r.line, r.column) for r in rows] == [
        (3, "BilledCost"),
        (4, "BillingCurrency"),
        (5, "ChargePeriodStart"),
    ]
    assert rows[0].cells == {
        "BilledCost": "12,5O",
        "EffectiveCost": "3.25",
        "ListCost": "4",
        "ContractedCost": "1",
    }
    assert "BilledCost" not in rows[0].amounts  # no readable amount: shown, in no sum
    assert money_at_stake(rows) == {
        "USD": {
            "EffectiveCost": D("4.75"),
            "ListCost": D("6.5"),
            "ContractedCost": D("1.000000000000000001"),
            "BilledCost": D(2),
        },
        "ZZZ": {
            "BilledCost": D("7.25"),
            "EffectiveCost": D(7),
            "ListCost": D(8),
            "ContractedCost": D(0),
        },
    }
    [found] = by_file(rows)
    assert (found.file, found.rows, found.kinds, found.unreadable) == (
        "bill.csv",
        3,
        {"cost": 3},
        {"BilledCost": 1},
    )
    # a month that could not be read may be any month's: a period's view keeps it
    assert len(quarantined(ws.data, period="2026-10")) == 3
    assert len(quarantined(ws.data, period="2026-09")) == 1
    assert quarantined(ws.data, source="other") == []


def test_totals_count_quarantined_money_per_metric(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", RULES)
    ingest(ws, _bill(tmp_path))
    allocate(ws)
    report = period_totals(ws)
    assert report.quarantined_money["USD"]["EffectiveCost"] == D("4.75")
    assert report.quarantined_money["ZZZ"]["ListCost"] == D(8)
    assert report.quarantined_cost == {"USD": D(2), "ZZZ": D("7.25")}
    as_json = report.as_dict()
    assert as_json["quarantined_money"]["USD"]["ContractedCost"] == "1.000000000000000001"


@pytest.fixture
def cli_workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    make_workspace(root, RULES).close()
    return root


def _run(root: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--workspace", str(root), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_ingest_prints_the_money_its_refused_rows_hold_back(
    tmp_path: Path, cli_workspace: Path
) -> None:
    code, stdout, _ = _run(cli_workspace, "ingest", str(_bill(tmp_path)))
    assert code == 0
    assert "3 quarantined" in stdout
    assert "hold back USD BilledCost 2, EffectiveCost 4.75" in stdout
    assert "ZZZ BilledCost 7.25" in stdout


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_quarantine_list_shows_each_file_and_its_money(tmp_path: Path, cli_workspace: Path) -> None:
    _run(cli_workspace, "ingest", str(_bill(tmp_path)))
    code, stdout, _ = _run(cli_workspace, "quarantine", "list", "--format", "json")
    assert code == 0
    payload = json.loads(stdout)
    [found] = payload["files"]
    assert (found["file"], found["rows"], found["unreadable_amounts"]) == (
        "bill.csv",
        3,
        {"BilledCost": 1},
    )
    assert found["money"]["USD"]["EffectiveCost"] == "4.750000000000000000"
    assert payload["money"]["ZZZ"]["BilledCost"] == "7.250000000000000000"

    code, stdout, _ = _run(cli_workspace, "quarantine", "list", "-f", "csv", "-p", "2026-10")
    assert code == 0
    table = list(csv.DictReader(io.StringIO(stdout)))
    amounts = {(r["currency"], r["metric"]): D(r["amount"]) for r in table}
    assert amounts[("USD", "ListCost")] == D("6.5")
    assert amounts[("ZZZ", "EffectiveCost")] == D(7)

    code, stdout, stderr = _run(cli_workspace, "quarantine", "list")
    assert code == 0 and "bill.csv" in stdout
    assert "3 rows holding back USD BilledCost 2" in stderr

    code, stdout, _ = _run(cli_workspace, "quarantine", "list", "--source", "nobody")
    assert code == 0 and "nothing to show" in stdout
    code, _, stderr = _run(cli_workspace, "quarantine", "list", "--period", "2026-13")
    assert code == 2 and "YYYY-MM" in stderr


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_quarantine_show_lists_line_column_reason_and_money(
    tmp_path: Path, cli_workspace: Path
) -> None:
    _run(cli_workspace, "ingest", str(_bill(tmp_path)))
    code, stdout, _ = _run(cli_workspace, "quarantine", "show", "bill.csv", "-f", "json")
    assert code == 0
    rows = json.loads(stdout)["rows"]
    assert [(r["line"], r["column"]) for r in rows] == [
        (3, "BilledCost"),
        (4, "BillingCurrency"),
        (5, "ChargePeriodStart"),
    ]
    assert rows[0]["reason"] == "BilledCost: '12,5O' is not a valid money"
    assert rows[0]["cells"]["BilledCost"] == "12,5O"
    assert rows[1]["amounts"]["BilledCost"] == "7.250000000000000000"
    assert rows[1]["currency"] == "ZZZ"
    file_hash = rows[0]["file_hash"]

    # by a prefix of the content hash, as `ingest` and `list` print it
    code, stdout, _ = _run(cli_workspace, "quarantine", "show", file_hash[:12], "-f", "csv")
    assert code == 0
    table = list(csv.DictReader(io.StringIO(stdout)))
    assert [r["line"] for r in table] == ["3", "4", "5"]
    assert table[2]["ListCost"] == "2.5"

    code, _, stderr = _run(cli_workspace, "quarantine", "show", "nothing.csv")
    assert code == 2
    assert stderr.count("\n") == 1 and "no quarantined rows of 'nothing.csv'" in stderr


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_report_totals_shows_the_quarantined_money(tmp_path: Path, cli_workspace: Path) -> None:
    _run(cli_workspace, "ingest", str(_bill(tmp_path)))
    assert _run(cli_workspace, "allocate", "-p", "2026-10")[0] == 0
    code, stdout, _ = _run(cli_workspace, "report", "totals", "-p", "2026-10")
    assert code == 0
    assert "quarantined: 3 cost rows holding back USD BilledCost 2, EffectiveCost 4.75" in stdout
    code, stdout, _ = _run(cli_workspace, "report", "totals", "-p", "2026-10", "-f", "csv")
    table = {(r["currency"], r["metric"]): r for r in csv.DictReader(io.StringIO(stdout))}
    assert table[("USD", "EffectiveCost")]["quarantined"] == "4.75"
