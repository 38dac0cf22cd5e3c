"""The ledger's commands end to end on small hand-made months (DuckDB, the default SQLite
control plane): 2026-10 allocated, reviewed, disputed, closed, exported and verified; 2026-11
with the dispute's adjustment and the change against the closed month; a restated 2026-10
bill posted as exactly its difference; the printable HTML; bad usage; an edit after closing
found by `ledger verify`; and a payer billed in three currencies (apportion.ledger.statement
called directly).

2026-10 (source ``bill``), EffectiveCost in USD, rounded once to cents with the bill as the
anchor (each provider's service is its own sum rounded half away from zero, and its lines
add up to it by largest remainder):

===============  ========  ====================  ========  =======  ===========
cost centre      use case  category              exact     line     mode
===============  ========  ====================  ========  =======  ===========
cx               bot       foundation_model_api    10.005    10.01  chargeback
cx               bot       uncategorised            5.5       5.50  showback
cx               search    foundation_model_api     3.333     3.33  chargeback
ops              etl       foundation_model_api  1234.567  1234.57  chargeback
r&d <lab>        lab       uncategorised            2         2.00  showback
__unallocated__  (none)    uncategorised            3.336     3.34  unallocated
===============  ========  ====================  ========  =======  ===========

OpenAI's API is 1247.905, which rounds to 1247.91; its floors add up to 1247.89 and the two
cents go to the largest remainders, ops (0.007) and cx/bot (0.005). The other lines are the
default service's (AWS EC2), 10.836 -> 10.84: floors 10.83, the cent to __unallocated__
(0.006). The month is the bill's parts, 1258.75 (the exact 1258.741). cx: chargeback 13.34,
showback 5.50, total 18.84. Bob disputes cx/bot; 2.50 of it is accepted, which credits cx and
charges __unallocated__ in 2026-11.

2026-11 (source ``nov``): cx/bot foundation 12.004 -> 12.00, cx/bot uncategorised 5.5 ->
5.50, cx/triage foundation 0.996 -> 1.00 (OpenAI's 13.000: floors 12.99, the cent to triage),
untagged 1 -> 1.00. cx: 12.00 + 1.00 - 2.50 chargeback = 10.50, showback 5.50, total 16.00
against 18.84 in 2026-10: -2.84.

The restated 2026-10 bill charges cx/search 4.333 instead of 3.333: its line becomes 4.33
(the other lines round as before), so 1.00 is posted to 2026-11.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sqlite3
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from apportion.cli import app
from apportion.ledger.render import grouped_text, signed, statements_html
from apportion.ledger.statement import StatementNotFoundError, payers, statement
from apportion.workspace import Workspace
from tests.helpers import allocate, ingest, make_workspace, write_focus

pytestmark = pytest.mark.duckdb

RULES = """rules:
  - name: tagged
    match: "tags['use_case'] IS NOT NULL"
    method: direct
"""
LEDGER = """ledger:
  modes:
    - category: foundation_model_api
      mode: chargeback
      effective_from: 2026-10
  accounts:
    expense_by_payer:
      cx: "6410"
"""

FMA = "foundation_model_api"
UNCATEGORISED = "uncategorised"
UNALLOCATED = "__unallocated__"
RD = "r&d <lab>"  # a payer value with HTML's special characters
OPENAI = {"ProviderName": "OpenAI", "ServiceName": "OpenAI API"}
NOVEMBER = {
    "BillingPeriodStart": "2026-11-01T00:00:00Z",
    "BillingPeriodEnd": "2026-12-01T00:00:00Z",
    "ChargePeriodStart": "2026-11-03T00:00:00Z",
    "ChargePeriodEnd": "2026-11-04T00:00:00Z",
}
DISPUTE_REASON = "a quarter of it was load testing"

# (workload, category, method, rule, mode, amount) of cx's 2026-10 lines, in statement order
CX_OCTOBER = [
    ("bot", FMA, "direct", "tagged", "chargeback", "10.01"),
    ("bot", UNCATEGORISED, "direct", "tagged", "showback", "5.50"),
    ("search", FMA, "direct", "tagged", "chargeback", "3.33"),
]
CX_OCTOBER_TOTALS = [
    {
        "currency": "USD",
        "chargeback": "13.34",
        "showback": "5.50",
        "total": "18.84",
        "previous": None,
        "change": None,
    }
]


def row(
    cost: str, use_case: str | None = None, cost_centre: str | None = None, **more: str
) -> dict[str, Any]:
    tags = {"use_case": use_case, "cost_centre": cost_centre} if use_case else {}
    return {"BilledCost": cost, "EffectiveCost": cost, "Tags": tags, **more}


def october_rows(search: str = "3.333") -> list[dict[str, Any]]:
    return [
        row("10.005", "bot", "cx", **OPENAI),
        row(search, "search", "cx", **OPENAI),
        row("5.5", "bot", "cx"),
        row("1234.567", "etl", "ops", **OPENAI),
        row("2", "lab", RD),
        row("3.336"),
    ]


NOVEMBER_ROWS = [
    row("12.004", "bot", "cx", **OPENAI, **NOVEMBER),
    row("5.5", "bot", "cx", **NOVEMBER),
    row("0.996", "triage", "cx", **OPENAI, **NOVEMBER),
    row("1", **NOVEMBER),
]


@pytest.fixture(scope="session", autouse=True)
def _spark_for_small_data() -> Iterator[None]:
    """Overrides tests/conftest.py's: nothing here runs on Spark, so none is started for it."""
    yield


# -- running the command line -------------------------------------------------------------------
@dataclass(frozen=True)
class Ran:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.code == 0, self.stderr
        return json.loads(self.stdout)


def cli(root: Path, *args: str, user: str = "alice") -> Ran:
    """One command on the workspace as ``user`` ($APPORTION_USER), on DuckDB and the
    workspace's own control plane whatever the environment says."""
    env: Mapping[str, str | None] = {
        "APPORTION_USER": user,
        "APPORTION_ENGINE_TYPE": "duckdb",
        "APPORTION_CONTROL_PLANE": None,
        "APPORTION_WORKSPACE": None,
    }
    result = CliRunner().invoke(app, ["--workspace", str(root), *args], env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash, not an exit code
    return Ran(result.exit_code, result.stdout, result.stderr)


@dataclass
class Ledger:
    """The module's workspace and what each step of its history printed, by name: the tests
    read these records, so they do not depend on the order they run in."""

    root: Path
    files: Path
    steps: dict[str, Ran] = field(default_factory=dict)

    def run(self, name: str, *args: str, user: str = "alice") -> Ran:
        ran = cli(self.root, *args, user=user)
        self.steps[name] = ran
        return ran

    def __getitem__(self, name: str) -> Ran:
        return self.steps[name]


def cx_statement(period: str) -> tuple[str, ...]:
    return ("statement", "--period", period, "--cost-centre", "cx", "--format", "json")


def line_id(document: Mapping[str, Any], workload: str, category: str) -> str:
    [found] = [
        line["line_id"]
        for line in document["lines"]
        if (line["workload"], line["category"], line["method"]) == (workload, category, "direct")
    ]
    return str(found)


def fields(line: Mapping[str, Any], *names: str) -> tuple[Any, ...]:
    return tuple(line[name] for name in names)


SHAPE = ("workload", "category", "method", "rule", "mode", "amount")
CHANGES = ("workload", "category", "method", "mode", "amount", "previous", "change")


def shape(document: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    return [fields(ln, *SHAPE) for ln in document["lines"]]


@pytest.fixture(scope="module")
def october(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    """2026-10 through its whole cycle, up to the refused re-allocation after closing."""
    files = tmp_path_factory.mktemp("ledger_cli")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("APPORTION_ENGINE_TYPE", "duckdb")
        patch.delenv("APPORTION_CONTROL_PLANE", raising=False)
        make_workspace(files / "ws", RULES, extra=LEDGER).close()
    ledger = Ledger(files / "ws", files)
    bill = write_focus(files / "oct.csv", october_rows())
    assert ledger.run("ingest", "ingest", str(bill), "--source", "bill").code == 0
    ledger.run("allocate", "allocate", "--period", "2026-10")
    ledger.run("list allocated", "period", "list", "--format", "json")
    ledger.run("close before review", "period", "close", "2026-10")
    ledger.run("review", "period", "review", "2026-10")
    in_review = ledger.run("in review", *cx_statement("2026-10")).json()
    ledger.run(
        "dispute open",
        *("dispute", "open", "--period", "2026-10", "--line", line_id(in_review, "bot", FMA)),
        *("--reason", "half of it was load testing", "--amount", "5.00"),
        user="bob",
    )
    ledger.run("disputed", *cx_statement("2026-10"))
    ledger.run("close disputed", "period", "close", "2026-10")
    ledger.run("dispute review", "dispute", "review", "1", "--note", "checking", user="carol")
    ledger.run(
        "dispute accept",
        *("dispute", "accept", "1", "--amount", "2.50", "--reason", DISPUTE_REASON),
        user="carol",
    )
    ledger.run("close", "period", "close", "2026-10")
    ledger.run("closed", *cx_statement("2026-10"))
    ledger.run("closed all", "statement", "--period", "2026-10", "--format", "json")
    ledger.run("closed csv", "statement", "--period", "2026-10", "--format", "csv")
    ledger.run("dispute show", "dispute", "show", "1", "--format", "json")
    ledger.run("dispute list", "dispute", "list", "--period", "2026-10", "--format", "json")
    ledger.run("journal csv", "journal", "export", "--period", "2026-10", "--format", "csv")
    ledger.run("journal json", "journal", "export", "--period", "2026-10", "--format", "json")
    out = str(files / "journal.csv")
    ledger.run("journal file", "journal", "export", "--period", "2026-10", "--out", out)
    ledger.run("verify", "ledger", "verify")
    ledger.run("audit", "audit", "--format", "json")
    today = datetime.now(UTC)
    since = (today - timedelta(days=1)).strftime("%Y-%m-%d")
    ledger.run("audit since yesterday", "audit", "--since", since, "--format", "json")
    since = (today + timedelta(days=1)).strftime("%Y-%m-%d")
    ledger.run("audit since tomorrow", "audit", "--since", since, "--format", "json")
    ledger.run("allocate closed", "allocate", "--period", "2026-10")
    ledger.run("list closed", "period", "list", "--format", "json")
    return ledger


@pytest.fixture(scope="module")
def november(october: Ledger) -> Ledger:
    """2026-11 ingested and allocated after 2026-10 closed."""
    bill = write_focus(october.files / "nov.csv", NOVEMBER_ROWS)
    assert october.run("ingest nov", "ingest", str(bill)).code == 0
    october.run("allocate nov", "allocate", "--period", "2026-11")
    october.run("nov cx", *cx_statement("2026-11"))
    october.run("nov cx table", "statement", "--period", "2026-11", "--cost-centre", "cx")
    october.run(
        "nov unallocated",
        *("statement", "--period", "2026-11", "--cost-centre", UNALLOCATED, "--format", "json"),
    )
    october.run("list nov", "period", "list", "--format", "json")
    return october


@pytest.fixture(scope="module")
def restated(november: Ledger) -> Ledger:
    """The 2026-10 bill restated after closing (same source), and its difference posted."""
    bill = write_focus(november.files / "oct-restated.csv", october_rows(search="4.333"))
    november.run("ingest restated", "ingest", str(bill), "--source", "bill")
    november.run("adjust", "period", "adjust", "2026-10", "--format", "json")
    november.run("adjust again", "period", "adjust", "2026-10")
    november.run("restated oct cx", *cx_statement("2026-10"))
    november.run("restated journal", "journal", "export", "-p", "2026-10", "-f", "json")
    november.run("restated nov cx", *cx_statement("2026-11"))
    november.run("restated verify", "ledger", "verify")
    november.run("restated audit", "audit", "--format", "json")
    return november


@pytest.fixture(scope="module")
def november_dispute(restated: Ledger) -> int:
    """Bob disputes cx's 2026-11 bot line (12.00) and Carol takes it under review."""
    document = restated["restated nov cx"].json()
    bot = line_id(document, "bot", FMA)
    opened = restated.run(
        "nov dispute", "dispute", "open", "-p", "2026-11", "--line", bot, "--reason", "too much",
        user="bob",
    )  # fmt: skip
    assert opened.code == 0, opened.stderr
    assert "dispute #2 opened" in opened.stdout
    assert restated.run("nov review", "dispute", "review", "2", user="carol").code == 0
    return 2


# -- 1. the whole cycle -------------------------------------------------------------------------
def test_allocated_period_is_listed_and_closes_only_after_review(october: Ledger) -> None:
    assert october["allocate"].code == 0, october["allocate"].stderr
    [listed] = october["list allocated"].json()
    assert listed["period"] == "2026-10" and listed["state"] == "allocated"
    assert listed["run_id"].startswith("2026-10-") and listed["closed_by"] is None
    early = october["close before review"]
    assert early.code == 2
    assert "`apportion period review 2026-10`" in early.stderr
    assert october["review"].code == 0
    assert "period 2026-10 is in review" in october["review"].stdout


def test_statement_in_review_rounds_by_largest_remainder(october: Ledger) -> None:
    document = october["in review"].json()
    assert shape(document) == CX_OCTOBER
    assert document["totals"] == CX_OCTOBER_TOTALS
    assert (document["period"], document["payer"], document["state"]) == (
        "2026-10",
        "cx",
        "in_review",
    )
    assert document["payer_dimension"] == "cost_centre"
    assert document["workload_dimension"] == "use_case"
    assert document["final"] is False and document["metric"] == "EffectiveCost"
    assert document["previous_period"] == "2026-09"
    ids = [line["line_id"] for line in document["lines"]]
    assert len(set(ids)) == 3 and all(re.fullmatch("[0-9a-f]{16}", i) for i in ids)
    assert {line["currency"] for line in document["lines"]} == {"USD"}
    assert all(line["previous"] is None and line["change"] is None for line in document["lines"])
    assert all(line["dispute"] is None for line in document["lines"])
    assert document["notes"] == ["2026-10 is in review: figures may still change before it closes"]


def test_an_open_dispute_holds_the_close(october: Ledger) -> None:
    bot = line_id(october["in review"].json(), "bot", FMA)
    opened = october["dispute open"]
    assert opened.code == 0, opened.stderr
    assert opened.stdout.strip() == (
        f"dispute #1 opened on 2026-10 line {bot} (cx bot foundation_model_api, 10.01 USD)"
    )
    disputed = october["disputed"].json()
    assert disputed["unresolved_disputes"] == 1
    assert {ln["line_id"]: ln["dispute"] for ln in disputed["lines"]}[bot] == "open (#1)"
    refused = october["close disputed"]
    assert refused.code == 2
    assert "unresolved disputes (#1)" in refused.stderr
    assert "`apportion dispute list --period 2026-10`" in refused.stderr


def test_accepted_dispute_lets_the_period_close(october: Ledger) -> None:
    assert october["dispute review"].stdout.strip() == "dispute #1 is under_review"
    assert october["dispute accept"].stdout.strip() == "dispute #1 is accepted: adjustment #1"
    closed = october["close"]
    assert closed.code == 0, closed.stderr
    assert closed.stdout.startswith("period 2026-10 closed: run 2026-10-")
    assert "6 statement lines, 5 journal lines" in closed.stdout
    shown = october["dispute show"].json()
    assert shown["state"] == "accepted" and shown["accepted_amount"] == "2.50"
    assert shown["claimed_amount"] == "5.00" and shown["adjustment_id"] == 1
    assert [(e["from"], e["to"], e["actor"]) for e in shown["events"]] == [
        (None, "open", "bob"),
        ("open", "under_review", "carol"),
        ("under_review", "accepted", "carol"),
    ]
    listed = october["dispute list"].json()
    assert [(d["id"], d["state"]) for d in listed["disputes"]] == [(1, "accepted")]
    assert sum(listed["aging"].values()) == 0  # nothing unresolved


def test_closed_statement_is_final_with_the_same_figures(october: Ledger) -> None:
    document = october["closed"].json()
    assert shape(document) == CX_OCTOBER
    assert document["totals"] == CX_OCTOBER_TOTALS
    assert document["state"] == "closed" and document["final"] is True
    assert document["closed_by"] == "alice" and document["unresolved_disputes"] == 0
    assert re.fullmatch("[0-9a-f]{64}", document["ledger_hash"])
    in_review = october["in review"].json()
    assert [ln["line_id"] for ln in document["lines"]] == [
        ln["line_id"] for ln in in_review["lines"]
    ]
    assert [ln["dispute"] for ln in document["lines"]] == ["accepted (#1)", None, None]
    assert document["notes"] == ["2026-10 is closed: these figures are final"]


def test_every_payer_statement_and_its_modes(october: Ledger) -> None:
    documents = october["closed all"].json()
    assert [d["payer"] for d in documents] == ["cx", "ops", RD, UNALLOCATED]
    by_payer = {d["payer"]: d for d in documents}
    assert shape(by_payer["ops"]) == [("etl", FMA, "direct", "tagged", "chargeback", "1234.57")]
    assert shape(by_payer[RD]) == [("lab", UNCATEGORISED, "direct", "tagged", "showback", "2.00")]
    assert shape(by_payer[UNALLOCATED]) == [
        (UNALLOCATED, UNCATEGORISED, "unallocated", "(none)", "unallocated", "3.34")
    ]
    # the rounded lines add up to the bill's rounded parts: 1247.91 + 10.84
    amounts = [Decimal(ln["amount"]) for d in documents for ln in d["lines"]]
    assert sum(amounts) == Decimal("1258.75")
    [ops_total] = by_payer["ops"]["totals"]
    assert (ops_total["chargeback"], ops_total["showback"]) == ("1234.57", "0.00")
    rows = list(csv.DictReader(io.StringIO(october["closed csv"].stdout)))
    assert [(r["cost_centre"], r["use_case"], r["amount"]) for r in rows] == [
        ("cx", "bot", "10.01"),
        ("cx", "bot", "5.50"),
        ("cx", "search", "3.33"),
        ("ops", "etl", "1234.57"),
        (RD, "lab", "2.00"),
        (UNALLOCATED, UNALLOCATED, "3.34"),
    ]


def _journal_tuple(line: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        line["payer"],
        line["account"],
        line["workload"] or None,
        line["category"] or None,
        Decimal(line["debit"]),
        Decimal(line["credit"]),
    )


def test_journal_is_balanced_chargeback_only_and_stable(october: Ledger) -> None:
    assert october["journal csv"].code == 0, october["journal csv"].stderr
    from_csv = list(csv.DictReader(io.StringIO(october["journal csv"].stdout)))
    exported = october["journal json"].json()
    assert exported["period"] == "2026-10"
    from_json = exported["lines"]
    assert sorted(map(_journal_tuple, from_json)) == sorted(
        [
            ("cx", "6410", "bot", FMA, Decimal("10.01"), Decimal(0)),
            ("cx", "6410", "search", FMA, Decimal("3.33"), Decimal(0)),
            ("cx", "4900", None, None, Decimal(0), Decimal("13.34")),
            ("ops", "6400", "etl", FMA, Decimal("1234.57"), Decimal(0)),
            ("ops", "4900", None, None, Decimal(0), Decimal("1234.57")),
        ]
    )
    assert sorted(map(_journal_tuple, from_csv)) == sorted(map(_journal_tuple, from_json))
    # balanced per entry, one entry per payer, its recovery line the last
    debits: dict[str, Decimal] = defaultdict(Decimal)
    credits: dict[str, Decimal] = defaultdict(Decimal)
    for line in from_json:
        debits[line["entry_id"]] += Decimal(line["debit"])
        credits[line["entry_id"]] += Decimal(line["credit"])
    assert debits == credits and len(debits) == 2
    recovery = [line for line in from_json if line["account"] == "4900"]
    assert [line["payer"] for line in recovery] == ["cx", "ops"]
    assert all(line["line_id"] == f"{line['entry_id']}-recovery" for line in recovery)
    assert all(line["statement_line_id"] is None for line in recovery)
    # only the chargeback lines of the statements are posted
    documents = october["closed all"].json()
    charged = {ln["line_id"] for d in documents for ln in d["lines"] if ln["mode"] == "chargeback"}
    posted = {line["statement_line_id"] for line in from_json} - {None}
    assert posted == charged and len(charged) == 3
    # the same ids in both formats, and written to a file as to stdout
    ids = [(line["entry_id"], line["line_id"]) for line in from_json]
    assert [(line["entry_id"], line["line_id"]) for line in from_csv] == ids
    assert all(entry.startswith("JE-2026-10-") for entry, _ in ids)
    assert len({line_id for _, line_id in ids}) == 5
    written = (october.files / "journal.csv").read_text(encoding="utf-8")
    assert written == october["journal csv"].stdout
    assert "wrote 5 journal lines" in october["journal file"].stderr


HEAD = re.compile(r"^ledger chain head: ([0-9a-f]{64})$", re.MULTILINE)


def test_the_chain_head_printed_at_close_is_on_statements_journals_and_verifiable(
    october: Ledger,
) -> None:
    """The full head, for an auditor to keep: on every statement and journal export, and
    `ledger verify --expect-head` checks it is still a link of the chain."""
    found = HEAD.search(october["close"].stdout)
    assert found, october["close"].stdout
    head = found[1]
    assert october["closed all"].json()[0]["ledger_hash"] == head
    rows = list(csv.DictReader(io.StringIO(october["closed csv"].stdout)))
    assert rows and {row["ledger_hash"] for row in rows} == {head}
    journal_rows = list(csv.DictReader(io.StringIO(october["journal csv"].stdout)))
    assert {row["ledger_hash"] for row in journal_rows} == {head}
    exported = october["journal json"].json()
    assert exported["ledger_hash"] == head
    assert {line["ledger_hash"] for line in exported["lines"]} == {head}
    page = cli(october.root, "statement", "--period", "2026-10", "--format", "html")
    assert f"--expect-head {head}</code>" in page.stdout
    kept = cli(october.root, "ledger", "verify", "--expect-head", head.upper())
    assert kept.code == 0, kept.stdout
    assert "the head you hold is the close of 2026-10" in kept.stdout
    assert f"chain head: {head}" in kept.stdout
    other = "f" * 64
    wrong = cli(october.root, "ledger", "verify", "--expect-head", other)
    assert wrong.code == 1
    assert f"tampered: the chain head you hold ({other}) is not a link" in wrong.stdout
    malformed = cli(october.root, "ledger", "verify", "--expect-head", head[:16])
    assert malformed.code == 2
    assert "64 hexadecimal digits" in malformed.stderr


def test_verify_audit_and_no_allocation_after_close(october: Ledger) -> None:
    verified = october["verify"]
    assert verified.code == 0
    assert "ledger intact: 1 closed periods, hash chain verified" in verified.stdout
    entries = october["audit"].json()
    assert [(e["action"], e["actor"], e["subject"]) for e in entries[1:]] == [
        ("period.allocated", "alice", "2026-10"),
        ("period.in_review", "alice", "2026-10"),
        ("dispute.open", "bob", "dispute #1"),
        ("dispute.under_review", "carol", "dispute #1"),
        ("dispute.accepted", "carol", "dispute #1"),
        ("adjustment.dispute", "carol", "2026-11"),
        ("adjustment.dispute", "carol", "2026-11"),
        ("period.closed", "alice", "2026-10"),
    ]
    assert (entries[0]["action"], entries[0]["actor"]) == ("ruleset.version", "alice")
    moved = [e["details"] for e in entries if e["action"] == "adjustment.dispute"]
    assert [(d["payer"], d["amount"], d["corrects"]) for d in moved] == [
        ("cx", "-2.50", "2026-10"),
        (UNALLOCATED, "2.50", "2026-10"),
    ]
    assert october["audit since yesterday"].json() == entries
    assert october["audit since tomorrow"].json() == []
    refused = october["allocate closed"]
    assert refused.code == 2
    assert "`apportion period adjust 2026-10`" in refused.stderr
    # the accepted dispute's adjustment made 2026-11 known, as open
    closed, nxt = october["list closed"].json()
    assert fields(closed, "period", "state", "closed_by") == ("2026-10", "closed", "alice")
    assert closed["forced"] is False
    assert closed["run_id"] == october["list allocated"].json()[0]["run_id"]
    assert (nxt["period"], nxt["state"], nxt["run_id"]) == ("2026-11", "open", None)


# -- 2. the next period -------------------------------------------------------------------------
def test_next_period_carries_the_adjustment_and_the_change(november: Ledger) -> None:
    assert november["allocate nov"].code == 0, november["allocate nov"].stderr
    document = november["nov cx"].json()
    assert (document["period"], document["previous_period"]) == ("2026-11", "2026-10")
    assert document["state"] == "allocated"
    lines = [fields(ln, *CHANGES) for ln in document["lines"]]
    assert lines == [
        ("bot", FMA, "direct", "chargeback", "12.00", "10.01", "1.99"),
        ("bot", UNCATEGORISED, "direct", "showback", "5.50", "5.50", "0.00"),
        ("triage", FMA, "direct", "chargeback", "1.00", None, None),
        ("bot", FMA, "adjustment", "chargeback", "-2.50", None, None),
    ]
    adjustment = document["lines"][-1]
    assert adjustment["line_id"] == "adj-1" and adjustment["rule"] == "tagged"
    note = f"corrects 2026-10: dispute #1 on 2026-10 accepted: {DISPUTE_REASON}"
    assert adjustment["note"] == note
    assert all(ln["note"] is None for ln in document["lines"][:-1])
    assert document["totals"] == [
        {
            "currency": "USD",
            "chargeback": "10.50",
            "showback": "5.50",
            "total": "16.00",
            "previous": "18.84",
            "change": "-2.84",
        }
    ]
    table = november["nov cx table"]
    assert table.code == 0
    assert "USD: chargeback 10.50, showback 5.50, total 16.00, change -2.84" in table.stdout
    assert "note: 2026-11 is allocated, not yet reviewed: figures may change" in table.stderr


def test_the_accepted_amount_moves_to_unallocated(november: Ledger) -> None:
    document = november["nov unallocated"].json()
    lines = [fields(ln, *CHANGES) for ln in document["lines"]]
    assert lines == [
        (UNALLOCATED, UNCATEGORISED, "unallocated", "unallocated", "1.00", "3.34", "-2.34"),
        ("bot", FMA, "adjustment", "unallocated", "2.50", None, None),
    ]
    assert document["lines"][1]["line_id"] == "adj-2"
    [total] = document["totals"]
    assert (total["chargeback"], total["total"], total["previous"], total["change"]) == (
        "0.00",
        "3.50",
        "3.34",
        "0.16",
    )
    listed = {p["period"]: p["state"] for p in november["list nov"].json()}
    assert listed == {"2026-10": "closed", "2026-11": "allocated"}


# -- 3. a restated bill after closing -----------------------------------------------------------
def test_restatement_posts_exactly_the_difference(restated: Ledger) -> None:
    ingested = restated["ingest restated"]
    assert ingested.code == 0 and "replaced as focus (source bill)" in ingested.stdout
    adjusted = restated["adjust"].json()
    assert adjusted["period"] == "2026-10" and adjusted["posted_to"] == "2026-11"
    assert adjusted["adjustments"] == [
        {
            "adjustment_id": 3,
            "period": "2026-11",
            "payer": "cx",
            "workload": "search",
            "category": FMA,
            "rule": "tagged",
            "method": "direct",
            "currency": "USD",
            "amount": "1.00",
        }
    ]
    assert adjusted["notes"] == []
    # the same bill again adjusts nothing, and is not allocated again
    again = restated["adjust again"]
    assert again.code == 0, again.stderr
    assert again.stdout.strip() == "nothing to adjust: the restated 2026-10 allocates as it closed"
    assert " ".join(again.stderr.split()) == (
        f"note: the inputs of 2026-10 are those run {adjusted['run_id']} allocated: nothing "
        "was restated since"
    )
    document = restated["restated nov cx"].json()
    adjustment = document["lines"][-1]
    assert (adjustment["line_id"], adjustment["workload"], adjustment["amount"]) == (
        "adj-3",
        "search",
        "1.00",
    )
    assert adjustment["method"] == "adjustment" and adjustment["mode"] == "chargeback"
    assert adjustment["note"] == (
        f"corrects 2026-10: restated bill for 2026-10 (run {adjusted['run_id']})"
    )
    [total] = document["totals"]
    assert (total["chargeback"], total["total"], total["change"]) == ("11.50", "17.00", "-1.84")
    audited = [e["action"] for e in restated["restated audit"].json()]
    assert audited.count("period.restated") == 1 and audited.count("adjustment.restatement") == 1


def test_the_closed_period_stays_as_it_closed(restated: Ledger) -> None:
    assert restated["restated oct cx"].json() == restated["closed"].json()
    assert restated["restated journal"].json() == restated["journal json"].json()
    verified = restated["restated verify"]
    assert verified.code == 0 and "ledger intact" in verified.stdout


# -- 4. printable HTML --------------------------------------------------------------------------
def test_html_page_has_every_payer_escaped_and_nothing_external(
    october: Ledger, tmp_path: Path
) -> None:
    page_file = tmp_path / "f.html"
    ran = cli(october.root, "statement", "-p", "2026-10", "-f", "html", "--out", str(page_file))
    assert ran.code == 0, ran.stderr
    assert ran.stdout == "" and f"wrote 4 statement(s) to {page_file}" in ran.stderr
    page = page_file.read_text(encoding="utf-8")
    assert page.count("<html") == 1 and page.count('<section class="statement">') == 4
    for payer in ("cx", "ops", "r&amp;d &lt;lab&gt;", UNALLOCATED):
        assert f"AI cost statement · cost centre {payer} · 2026-10</h1>" in page
    assert RD not in page and "<lab>" not in page
    for document in october["closed all"].json():
        for line in document["lines"]:
            assert f'<td class="hash">{line["line_id"]}</td>' in page
    assert page.count('<td class="num">1,234.57</td>') == 3  # the line, chargeback, total
    assert "1234.57" not in page
    for amount in ("10.01", "5.50", "3.33", "2.00", "3.34", "13.34", "18.84"):
        assert f'<td class="num">{amount}</td>' in page
    for mode in ("chargeback", "showback", "unallocated"):
        assert f'<span class="mode {mode}">{mode}</span>' in page
    for external in ("http://", "https://", "<script", "<link", "src=", "url(", "@import"):
        assert external not in page
    assert "accepted (#1)" in page and page.count('<span class="state closed">Closed</span>') == 4


def test_html_for_one_payer_escapes_the_title(october: Ledger) -> None:
    ran = cli(october.root, "statement", "-p", "2026-10", "--cost-centre", RD, "-f", "html")
    assert ran.code == 0, ran.stderr
    assert "<title>AI cost statement 2026-10 · r&amp;d &lt;lab&gt;</title>" in ran.stdout
    assert ran.stdout.count('<section class="statement">') == 1 and RD not in ran.stdout


# -- 5. bad usage -------------------------------------------------------------------------------
def test_unknown_cost_centre_lists_the_payers(october: Ledger) -> None:
    ran = cli(october.root, "statement", "-p", "2026-10", "--cost-centre", "nobody", "-f", "json")
    assert ran.code == 2 and ran.stdout == ""
    assert (
        "cost_centre 'nobody' has no lines in 2026-10 (payers: cx, ops, r&d <lab>, __unallocated__)"
    ) in ran.stderr


def test_a_period_without_allocation_has_no_statement(october: Ledger) -> None:
    ran = cli(october.root, "statement", "-p", "2027-01", "-f", "json")
    assert ran.code == 2
    assert "`apportion allocate --period 2027-01` first" in ran.stderr


def test_reject_needs_a_reason(october: Ledger, november_dispute: int) -> None:
    missing = cli(october.root, "dispute", "reject", str(november_dispute), user="carol")
    assert missing.code == 2 and "Missing option '--reason'" in missing.stderr
    blank = cli(october.root, "dispute", "reject", "2", "--reason", "  ", user="carol")
    assert blank.code == 2 and "rejecting a dispute needs a reason" in blank.stderr


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("2.505", "the accepted amount 2.505 has more decimals than USD has"),
        ("12.01", "the accepted amount 12.01 is more than the line's 12.00 USD"),
        ("0", "the accepted amount must be more than zero"),
        ("lots", "'lots' is not a number"),
    ],
)
def test_accept_refuses_an_amount_that_does_not_fit(
    october: Ledger, november_dispute: int, amount: str, message: str
) -> None:
    number = str(november_dispute)
    ran = cli(
        october.root, "dispute", "accept", number, "--amount", amount, "--reason", "r", user="carol"
    )
    assert ran.code == 2 and message in ran.stderr
    shown = cli(october.root, "dispute", "show", number, "--format", "json").json()
    assert shown["state"] == "under_review" and shown["adjustment_id"] is None


def test_accept_refuses_to_reassign_to_a_payer_that_does_not_exist(
    october: Ledger, november_dispute: int
) -> None:
    """A mistyped name would have become a new cost centre, charged in the next period."""
    number = str(november_dispute)
    accept = ("dispute", "accept", number, "--amount", "1.00", "--reason", "r")
    ran = cli(october.root, *accept, "--reassign-to", "opz", user="carol")
    assert ran.code == 2, ran.stdout
    assert "--reassign-to 'opz' is not a payer of 2026-11 nor in the tag catalogue" in ran.stderr
    assert "(known: none; leave it out to charge __unallocated__)" in ran.stderr  # cx disputed
    shown = cli(october.root, "dispute", "show", number, "--format", "json").json()
    assert shown["state"] == "under_review" and shown["adjustment_id"] is None


def test_the_disputed_amount_is_worded_as_the_api_and_the_web_word_it() -> None:
    from typer.main import get_command

    from apportion.ledger.disputes import DISPUTED_AMOUNT, DISPUTED_AMOUNT_MEANS

    dispute = get_command(app).commands["dispute"]  # type: ignore[attr-defined]
    [amount] = [p for p in dispute.commands["open"].params if p.name == "amount"]
    assert amount.help == f"{DISPUTED_AMOUNT}: {DISPUTED_AMOUNT_MEANS}."


def test_unknown_dispute_and_line(october: Ledger) -> None:
    ran = cli(october.root, "dispute", "show", "99")
    assert ran.code == 2 and "there is no dispute #99" in ran.stderr
    ran = cli(october.root, "dispute", "review", "99")
    assert ran.code == 2 and "there is no dispute #99" in ran.stderr
    ran = cli(october.root, "dispute", "open", "-p", "2026-10", "--line", "nope", "--reason", "x")
    assert ran.code == 2
    assert "no statement line 'nope'" in ran.stderr and "`apportion statement" in ran.stderr
    unallocated = next(d for d in october["closed all"].json() if d["payer"] == UNALLOCATED)
    nobodys = unallocated["lines"][0]["line_id"]
    ran = cli(october.root, "dispute", "open", "-p", "2026-10", "--line", nobodys, "--reason", "x")
    assert ran.code == 2 and "nobody's charge" in ran.stderr


def test_a_resolved_dispute_does_not_move_again(october: Ledger) -> None:
    ran = cli(october.root, "dispute", "withdraw", "1", user="bob")
    assert ran.code == 2
    assert "dispute #1 is accepted: it cannot become withdrawn" in ran.stderr


def test_journal_of_an_unclosed_period_names_close(november: Ledger) -> None:
    ran = cli(november.root, "journal", "export", "--period", "2026-11")
    assert ran.code == 2 and ran.stdout == ""
    assert "`apportion period close 2026-11`" in ran.stderr


def test_close_reason_needs_force_and_force_needs_reason(november: Ledger) -> None:
    ran = cli(november.root, "period", "close", "2026-11", "--reason", "x")
    assert ran.code == 2 and "--reason goes with --force" in ran.stderr
    ran = cli(november.root, "period", "close", "2026-11", "--force")
    assert ran.code == 2 and "--force needs --reason" in ran.stderr
    listed = cli(november.root, "period", "list", "-f", "json").json()
    assert {p["period"]: p["state"] for p in listed}["2026-11"] == "allocated"


def test_review_and_close_refuse_the_wrong_state(october: Ledger) -> None:
    ran = cli(october.root, "period", "review", "2026-10")
    assert ran.code == 2 and "period 2026-10 is closed and never changes" in ran.stderr
    ran = cli(october.root, "period", "adjust", "2026-09")
    assert ran.code == 2 and "2026-09 is not closed" in ran.stderr


MARKUP = "[bold]x[/]"  # a cost centre that reads as rich markup


def test_user_data_that_looks_like_markup_prints_as_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cost centres, use cases and reasons are data: printed literally in tables, titles and
    messages, never read as markup (which would drop them or crash on a stray "[/]")."""
    monkeypatch.setenv("APPORTION_ENGINE_TYPE", "duckdb")
    monkeypatch.delenv("APPORTION_CONTROL_PLANE", raising=False)
    root = tmp_path / "ws"
    make_workspace(root, RULES, extra=LEDGER).close()
    bill = write_focus(tmp_path / "oct.csv", [row("10", "[red]bot", MARKUP, **OPENAI)])
    assert cli(root, "ingest", str(bill), "--source", "bill").code == 0
    assert cli(root, "allocate", "--period", "2026-10").code == 0
    table = cli(root, "statement", "--period", "2026-10", "--cost-centre", MARKUP)
    assert table.code == 0, table.stderr
    assert f"Statement 2026-10 · cost_centre {MARKUP} (allocated)" in table.stdout
    assert "[red]bot" in table.stdout
    assert "USD: chargeback 10.00, showback 0.00, total 10.00" in table.stdout
    document = cli(root, *cx_statement("2026-10")[:4], MARKUP, "--format", "json").json()
    assert document["payer"] == MARKUP
    # a reason in a dispute's messages and table, and a payer in an error message
    assert cli(root, "period", "review", "2026-10").code == 0
    bot = document["lines"][0]["line_id"]
    reason = "[/] [bold]load"
    opened = cli(root, "dispute", "open", "-p", "2026-10", "--line", bot, "--reason", reason)
    assert opened.code == 0, opened.stderr
    assert f"dispute #1 opened on 2026-10 line {bot} ({MARKUP} [red]bot" in opened.stdout
    shown = cli(root, "dispute", "show", "1")
    assert shown.code == 0, shown.stderr
    assert reason in shown.stdout and MARKUP in shown.stdout
    unknown = cli(root, "statement", "--period", "2026-10", "--cost-centre", "[/]")
    assert unknown.code == 2
    assert f"cost_centre '[/]' has no lines in 2026-10 (payers: {MARKUP})" in unknown.stderr


# -- 6. an edit after closing ---------------------------------------------------------------------
EDITS = {
    "statement line": (
        "UPDATE statement_lines SET amount = '10.50' "
        "WHERE period = '2026-10' AND payer = 'cx' AND workload = 'bot' AND category = ?"
    ),
    "journal line": (
        "UPDATE journal_lines SET debit = '10.50' "
        "WHERE period = '2026-10' AND payer = 'cx' AND workload = 'bot' AND category = ?"
    ),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_verify_finds_an_amount_edited_after_closing(
    october: Ledger, tmp_path: Path, edit: str
) -> None:
    """The edit is made on a copy of the control plane (the module's workspace stays intact);
    verify reads nothing else."""
    root = tmp_path / "ws"
    root.mkdir()
    shutil.copy(october.root / "apportion.yaml", root / "apportion.yaml")
    database = root / "apportion.sqlite"
    with (
        closing(sqlite3.connect(october.root / "apportion.sqlite")) as source,
        closing(sqlite3.connect(database)) as copy,
    ):
        source.backup(copy)
    shutil.copy(october.root / "ledger.key", root / "ledger.key")  # the key travels apart
    assert cli(root, "ledger", "verify").code == 0
    with closing(sqlite3.connect(database)) as connection, connection:
        assert connection.execute(EDITS[edit], (FMA,)).rowcount == 1
    ran = cli(root, "ledger", "verify")
    assert ran.code == 1
    assert (
        "tampered: 2026-10: the stored statements, journal or closing record differ from what "
        "was closed (content hash mismatch)"
    ) in ran.stdout
    assert "ledger intact" not in ran.stdout
    report = cli(root, "ledger", "verify", "--format", "json")
    assert report.code == 1
    found = json.loads(report.stdout)
    assert found["intact"] is False and found["closings"] == 1
    assert [problem.split(":")[0] for problem in found["problems"]] == ["2026-10"]


# -- statements in several currencies (apportion.ledger.statement directly) -----------------------
EUR, JPY = {"BillingCurrency": "EUR"}, {"BillingCurrency": "JPY"}
CURRENCY_ROWS = [
    row("7.125", "bot", "cx", **OPENAI, **EUR),
    row("2.5", "bot", "cx", **EUR),
    row("1234.5", "bot", "cx", **OPENAI, **JPY),
    row("3.333", "bot", "cx", **OPENAI),
    row("3.333", "search", "cx", **OPENAI),
    row("3.334"),
    row("8.004", "bot", "cx", **OPENAI, **EUR, **NOVEMBER),
    row("2", "bot", "cx", **OPENAI, **NOVEMBER),
]


@pytest.fixture(scope="module")
def currencies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """cx billed in EUR, JPY and USD in 2026-10, and in EUR and USD in 2026-11.

    Each provider's service rounds on its own, half away from zero. EUR 2026-10: OpenAI's
    7.125 is 7.13, the default service's 2.5 is 2.50 (9.63). JPY: 1234.5 is 1235 (no minor
    unit). USD: OpenAI's 3.333 + 3.333 = 6.666 is 6.67; the floors make 6.66 and the cent goes
    to the earlier of the equal remainders, bot; the default service's unallocated 3.334 is
    3.33. 2026-11: EUR 8.004 -> 8.00, USD 2.00."""
    base = tmp_path_factory.mktemp("currencies")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("APPORTION_ENGINE_TYPE", "duckdb")
        patch.delenv("APPORTION_CONTROL_PLANE", raising=False)
        workspace = make_workspace(base / "ws", RULES, extra=LEDGER)
        ingest(workspace, write_focus(base / "fx.csv", CURRENCY_ROWS))
        allocate(workspace, "2026-10")
        allocate(workspace, "2026-11")
        yield workspace
        workspace.close()


def _lines(entries: Sequence[Any]) -> list[tuple[Any, ...]]:
    return [
        (
            e.line.currency,
            e.line.workload,
            e.line.category,
            e.line.mode,
            e.line.amount,
            e.previous,
            e.change,
        )
        for e in entries
    ]


def test_totals_per_currency_each_at_its_own_minor_unit(currencies: Workspace) -> None:
    found = statement(currencies, "2026-10", "cx")
    assert _lines(found.entries) == [
        ("EUR", "bot", FMA, "chargeback", Decimal("7.13"), None, None),
        ("EUR", "bot", UNCATEGORISED, "showback", Decimal("2.50"), None, None),
        ("JPY", "bot", FMA, "chargeback", Decimal("1235"), None, None),
        ("USD", "bot", FMA, "chargeback", Decimal("3.34"), None, None),
        ("USD", "search", FMA, "chargeback", Decimal("3.33"), None, None),
    ]
    assert [total.as_dict() for total in found.totals] == [
        {
            "currency": "EUR",
            "chargeback": "7.13",
            "showback": "2.50",
            "total": "9.63",
            "previous": None,
            "change": None,
        },
        {
            "currency": "JPY",
            "chargeback": "1235",
            "showback": "0",
            "total": "1235",
            "previous": None,
            "change": None,
        },
        {
            "currency": "USD",
            "chargeback": "6.67",
            "showback": "0.00",
            "total": "6.67",
            "previous": None,
            "change": None,
        },
    ]
    assert payers(currencies, "2026-10") == ["cx", UNALLOCATED]
    [unallocated] = statement(currencies, "2026-10", UNALLOCATED).entries
    assert (unallocated.line.currency, unallocated.line.amount) == ("USD", Decimal("3.33"))


def test_previous_period_is_compared_per_currency(currencies: Workspace) -> None:
    found = statement(currencies, "2026-11", "cx")
    assert found.previous_period == "2026-10" and found.state == "allocated"
    assert _lines(found.entries) == [
        ("EUR", "bot", FMA, "chargeback", Decimal("8.00"), Decimal("7.13"), Decimal("0.87")),
        ("USD", "bot", FMA, "chargeback", Decimal("2.00"), Decimal("3.34"), Decimal("-1.34")),
    ]
    # JPY was billed in October and not in November: a drop to zero, not a missing row
    assert [(t.currency, t.total, t.previous, t.change) for t in found.totals] == [
        ("EUR", Decimal("8.00"), Decimal("9.63"), Decimal("-1.63")),
        ("JPY", Decimal("0"), Decimal("1235"), Decimal("-1235")),
        ("USD", Decimal("2.00"), Decimal("6.67"), Decimal("-4.67")),
    ]


def test_statement_errors_name_what_to_do(currencies: Workspace) -> None:
    with pytest.raises(StatementNotFoundError, match=r"\(payers: cx, __unallocated__\)"):
        statement(currencies, "2026-10", "nobody")
    with pytest.raises(StatementNotFoundError, match="apportion allocate --period 2026-12"):
        statement(currencies, "2026-12", "cx")


def test_html_shows_each_currency_at_its_minor_unit(currencies: Workspace) -> None:
    page = statements_html([statement(currencies, "2026-11", "cx")])
    for cell in ("8.00", "7.13", "+0.87", "-1.34", "9.63", "-1.63", "-4.67"):
        assert f'<td class="num">{cell}</td>' in page
    october_page = statements_html([statement(currencies, "2026-10", "cx")])
    assert '<td class="num">1,235</td>' in october_page and "1,235.00" not in october_page
    assert '<td class="num">new</td>' in october_page
    with pytest.raises(ValueError, match="no statements"):
        statements_html([])


def test_money_groups_thousands_at_the_minor_unit() -> None:
    assert grouped_text(Decimal("1234567.80"), "USD") == "1,234,567.80"
    assert grouped_text(Decimal("-1234.50"), "EUR") == "-1,234.50"
    assert grouped_text(Decimal("1234"), "JPY") == "1,234"
    assert grouped_text(Decimal("0"), "USD") == "0.00"
    assert signed(Decimal("0.88"), "EUR") == "+0.88"
    assert signed(Decimal("-2.83"), "USD") == "-2.83"
    assert signed(Decimal("0.00"), "USD") == "0.00"
