"""Dimension values that allocation reads: own tags under any spelling of their key, values
inherited from a mapping table by account, and first-match mapping rules with effective dates;
each pool's lineage says where its owner came from, and the totals add cost up by it."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from apportion.cli import app
from apportion.config import ConfigError, parse_config
from apportion.export.focus import export_focus
from apportion.periods import Period
from apportion.schema import tables as t
from apportion.tags.derived import Derivation
from apportion.tags.documents import DocumentError
from apportion.workspace import Workspace
from tests.helpers import (
    allocate,
    billed_by,
    ingest,
    make_workspace,
    period_totals,
    write_focus,
)

DIRECT = """rules:
  - {name: owned, match: "cost_centre IS NOT NULL OR use_case IS NOT NULL", method: direct}
"""
DIMENSIONS = "dimensions: [cost_centre, use_case]\n"


def _pool_sources(ws: Any) -> dict[tuple[str | None, ...], dict[str, str]]:
    """Each direct pool's owner (cost_centre, use_case) with the sources of its values."""
    pools = ws.data.to_arrow(ws.data.table(t.POOLS).filter(lambda p: p.method == "direct"))
    allocations = ws.data.to_arrow(ws.data.table(t.ALLOCATIONS).select("pool_id", "dimensions"))
    owner = {
        row["pool_id"]: tuple(dict(row["dimensions"]).get(d) for d in ("cost_centre", "use_case"))
        for row in allocations.to_pylist()
    }
    return {owner[row["pool_id"]]: dict(row["sources"] or []) for row in pools.to_pylist()}


@pytest.mark.usefixtures("engine")
@pytest.mark.spark_full
def test_own_tags_are_read_under_any_spelling_and_spelled_as_the_catalogue(
    tmp_path: Path,
) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "catalogue.csv").write_text(
        "dimension,value\ncost_centre,ml-platform\nuse_case,support-bot\n"
    )
    ws = make_workspace(
        tmp_path / "ws",
        DIRECT,
        extra=DIMENSIONS
        + "tags: {catalogue: catalogue.csv, aliases: {cost_centre: [team]}, allowed: {}}\n",
    )
    bill = write_focus(
        tmp_path / "bill.csv",
        [
            {"BilledCost": "1", "Tags": {"CostCenter": "ML Platform", "UseCase": "Support Bot"}},
            {"BilledCost": "2", "Tags": {"user:team": "ml-platform", "use-case": " "}},
            {"BilledCost": "4", "Tags": {"cost_centre": "ml-platform", "CostCentre": "other"}},
            {"BilledCost": "8", "Tags": {"Owner": "nobody"}},
        ],
    )
    ingest(ws, bill)
    allocate(ws)
    assert billed_by(ws, "cost_centre") == {"ml-platform": D(7), "__unallocated__": D(8)}
    # an empty value is no value: the line tagged use-case " " has no use case
    assert billed_by(ws, "use_case") == {"support-bot": D(1), "__unallocated__": D(14)}
    assert _pool_sources(ws) == {
        ("ml-platform", "support-bot"): {"cost_centre": "tag", "use_case": "tag"},
        ("ml-platform", "__unallocated__"): {"cost_centre": "tag"},
    }
    [billed] = [m for m in period_totals(ws).metrics if m.metric == "BilledCost"]
    assert billed.direct_by_source["tags"] == D(7)


@pytest.mark.usefixtures("engine")
@pytest.mark.spark_full
def test_values_are_inherited_from_a_mapping_table_by_account_and_date(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "accounts.csv").write_text(
        "SubAccountId,name,cost_centre,use_case,effective_from\n"
        "111,ML sandbox,ml-platform,,\n"
        "111,ML sandbox,research,,2026-10-10\n"
        "222,Search,search,doc-search,\n"
    )
    ws = make_workspace(
        tmp_path / "ws",
        DIRECT,
        extra=DIMENSIONS + "tags: {inherit: [{file: accounts.csv, column: SubAccountId}]}\n",
    )
    bill = write_focus(
        tmp_path / "bill.csv",
        [
            # 111 before 10 October: ml-platform; from then on: research
            {"BilledCost": "1", "SubAccountId": "111", "ChargePeriodStart": "2026-10-09T23:00:00Z"},
            {"BilledCost": "2", "SubAccountId": "111", "ChargePeriodStart": "2026-10-10T00:00:00Z"},
            # the line's own tag wins over the table; the table fills the dimension it lacks
            {"BilledCost": "4", "SubAccountId": "222", "Tags": {"use_case": "fraud"}},
            {"BilledCost": "8", "SubAccountId": "333"},  # in no table
        ],
    )
    ingest(ws, bill)
    allocate(ws)
    assert billed_by(ws, "cost_centre") == {
        "ml-platform": D(1),
        "research": D(2),
        "search": D(4),
        "__unallocated__": D(8),
    }
    assert billed_by(ws, "use_case") == {"fraud": D(4), "__unallocated__": D(11)}
    sources = _pool_sources(ws)
    assert sources[("ml-platform", "__unallocated__")] == {"cost_centre": "inherited:accounts.csv"}
    assert sources[("search", "fraud")] == {
        "cost_centre": "inherited:accounts.csv",
        "use_case": "tag",
    }
    [billed] = [m for m in period_totals(ws).metrics if m.metric == "BilledCost"]
    assert billed.direct_by_source == {
        "tags": D(0),
        "inherited": D(7),
        "mapped": D(0),
    }
    assert billed.allocated["direct"] == D(7)
    # the 3 direct cost whose lines named no use case is unallocated in it, and says why
    missing = period_totals(ws).unallocated_by_dimension["USD"]["BilledCost"]
    assert missing == {"cost_centre": D(8), "use_case": D(11)}
    # the FOCUS export carries the same lineage in AllocatedMethodDetails
    export_focus(ws, Period.parse("2026-10"), tmp_path / "out.parquet")
    exported = pq.read_table(tmp_path / "out.parquet").to_pylist()
    details = {
        row["x_cost_centre"]: json.loads(row["AllocatedMethodDetails"]).get("sources")
        for row in exported
    }
    assert details == {
        "ml-platform": {"cost_centre": "inherited:accounts.csv"},
        "research": {"cost_centre": "inherited:accounts.csv"},
        "search": {"cost_centre": "inherited:accounts.csv", "use_case": "tag"},
        "__unallocated__": None,
    }


VIRTUAL = """tags:
  allowed: {}
  virtual:
    - name: fix-typo                 # a fix that reaches back: replaces the line's own tag
      match: "tags['use_case'] = 'supportbot'"
      set: {use_case: support-bot}
      override: true
      effective_from: 2026-09-01
    - name: ml-accounts
      match: "SubAccountName LIKE 'ml-%'"
      set: {cost_centre: ml-platform, use_case: training}
    - name: every-sandbox            # later: only what ml-accounts left open
      match: "SubAccountName LIKE '%sandbox'"
      set: {cost_centre: sandbox}
    - name: from-december            # not yet in effect in October
      match: "ServiceName = 'Amazon Bedrock'"
      set: {use_case: bedrock}
      effective_from: 2026-12-01
"""


@pytest.mark.usefixtures("engine")
def test_first_matching_mapping_rule_sets_what_tags_leave_open(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", DIRECT, extra=DIMENSIONS + VIRTUAL)
    bill = write_focus(
        tmp_path / "bill.csv",
        [
            {"BilledCost": "1", "SubAccountName": "ml-sandbox"},
            {"BilledCost": "2", "SubAccountName": "web-sandbox", "Tags": {"use_case": "web"}},
            {"BilledCost": "4", "SubAccountName": "ml-prod", "Tags": {"use_case": "supportbot"}},
            {"BilledCost": "8", "ServiceName": "Amazon Bedrock"},
            {"BilledCost": "16", "SubAccountName": "ml-x", "Tags": {"cost_centre": "fraud-team"}},
        ],
    )
    ingest(ws, bill)
    allocate(ws)
    assert billed_by(ws, "cost_centre") == {
        "ml-platform": D(5),
        "sandbox": D(2),
        "fraud-team": D(16),
        "__unallocated__": D(8),
    }
    assert billed_by(ws, "use_case") == {
        "training": D(17),
        "web": D(2),
        "support-bot": D(4),
        "__unallocated__": D(8),
    }
    sources = _pool_sources(ws)
    assert sources[("ml-platform", "support-bot")] == {
        "cost_centre": "rule:ml-accounts",
        "use_case": "rule:fix-typo",
    }
    assert sources[("fraud-team", "training")] == {
        "cost_centre": "tag",
        "use_case": "rule:ml-accounts",
    }
    [billed] = [m for m in period_totals(ws).metrics if m.metric == "BilledCost"]
    assert billed.direct_by_source["mapped"] == D(23)
    assert billed.direct_by_source["tags"] == D(0)
    assert period_totals(ws).unallocated_reasons == {"no rule matched": D(8)}


@pytest.mark.usefixtures("engine")
@pytest.mark.spark_full
def test_a_rule_matches_derived_values_and_tags_under_any_key_spelling(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "projects.csv").write_text("x_ProjectId,use_case\nproj_1,Doc Search\n")
    ws = make_workspace(
        tmp_path / "ws",
        """rules:
  - {name: search, match: "use_case = 'doc search'", method: fixed,
     shares: {cost_centre: {search: 100}}}
  - {name: programme, match: "tags['programme'] = 'red-team'", method: even,
     targets: {cost_centre: [security]}}
""",
        extra=DIMENSIONS + "tags: {inherit: [{file: projects.csv, column: x_ProjectId}]}\n",
    )
    bill = write_focus(
        tmp_path / "bill.csv",
        [
            {"BilledCost": "1", "x_ProjectId": "proj_1"},
            {"BilledCost": "2", "Tags": {"UseCase": "DOC SEARCH"}},
            {"BilledCost": "4", "Tags": {"Programme": "red-team"}},
            {"BilledCost": "8"},
        ],
    )
    ingest(ws, bill)
    allocate(ws)
    assert billed_by(ws, "cost_centre") == {
        "search": D(3),
        "security": D(4),
        "__unallocated__": D(8),
    }


def _derivation(tmp_path: Path, extra: str) -> Derivation:
    config = parse_config("version: 1\n" + DIMENSIONS + extra)
    return Derivation.of_config(config, tmp_path)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("name,cost_centre\nx,a\n", "needs the column SubAccountId"),
        ("SubAccountId,cost_centre,colour\n1,a,red\n", "unknown column 'colour'"),
        ("SubAccountId,effective_from\n1,2026-01-01\n", "at least one dimension"),
        ("SubAccountId,cost_centre\n,a\n", "line 2: SubAccountId is empty"),
        ("SubAccountId,cost_centre\n1,a\n1,b\n", "line 3: '1' is listed twice"),
        ("SubAccountId,cost_centre,effective_from\n1,a,next week\n", "is not a date"),
    ],
)
def test_a_bad_mapping_table_is_refused_with_its_line(
    tmp_path: Path, table: str, message: str
) -> None:
    (tmp_path / "accounts.csv").write_text(table)
    with pytest.raises(DocumentError, match=message):
        _derivation(tmp_path, "tags: {inherit: [{file: accounts.csv, column: SubAccountId}]}\n")


def test_mapped_values_must_be_allowed(tmp_path: Path) -> None:
    allowed = "  allowed: {cost_centre: [ml-platform]}\n"
    (tmp_path / "accounts.csv").write_text("SubAccountId,cost_centre\n1,ml-platfrom\n")
    with pytest.raises(DocumentError, match="line 2: cost_centre 'ml-platfrom' is not an allowed"):
        _derivation(
            tmp_path,
            "tags:\n  inherit: [{file: accounts.csv, column: SubAccountId}]\n" + allowed,
        )
    with pytest.raises(DocumentError, match=r"virtual 'r': cost_centre 'x' is not an allowed"):
        _derivation(
            tmp_path,
            "tags:\n  virtual: [{name: r, match: \"ServiceName = 'a'\", set: {cost_centre: x}}]\n"
            + allowed,
        )
    with pytest.raises(DocumentError, match=r"mapping table .*missing\.csv not found"):
        _derivation(tmp_path, "tags: {inherit: [{file: missing.csv, column: SubAccountId}]}\n")


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        (
            "{virtual: [{name: r, match: \"use_case = 'a'\", set: {cost_centre: x}}]}",
            "reads the dimension 'use_case', which these rules set; test the line's own tag",
        ),
        (
            "{virtual: [{name: r, match: \"ServiceName = 'a'\", set: {colour: x}}]}",
            "names 'colour', which is not one of the dimensions",
        ),
        (
            "{virtual: [{name: r, match: \"ServiceName = 'a'\", set: {use_case: x}, "
            "effective_from: 2026-10-01, effective_until: 2026-09-01}]}",
            "effective_until must be after effective_from",
        ),
        (
            "{virtual: [{name: r, match: \"ServiceName = 'a'\", set: {use_case: x}}, "
            "{name: r, match: \"ServiceName = 'b'\", set: {use_case: y}}]}",
            "every rule needs its own name",
        ),
        (
            "{inherit: [{file: a.csv, column: AccountColour}]}",
            "column 'AccountColour' is not a FOCUS column",
        ),
    ],
)
def test_bad_mapping_rules_are_configuration_errors(tags: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config("version: 1\n" + DIMENSIONS + f"tags: {tags}\n")


def test_allocate_refuses_a_bad_mapping_table_before_it_starts(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "accounts.csv").write_text("SubAccountId,cost_centre\n111,ml\n111,x\n")
    ws = make_workspace(
        tmp_path / "ws",
        DIRECT,
        extra=DIMENSIONS + "tags: {inherit: [{file: accounts.csv, column: SubAccountId}]}\n",
    )
    ingest(ws, write_focus(tmp_path / "bill.csv", [{"BilledCost": "1", "SubAccountId": "111"}]))
    ws.close()
    result = CliRunner().invoke(
        app, ["--workspace", str(tmp_path / "ws"), "allocate", "--period", "2026-10"]
    )
    assert result.exit_code == 2, result.output
    assert "accounts.csv, line 3: '111' is listed twice for one date" in result.output
    ws = Workspace.open(tmp_path / "ws")
    assert ws.control.runs("2026-10") == []  # nothing recorded, nothing published
    ws.close()
