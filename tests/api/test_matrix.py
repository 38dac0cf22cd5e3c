"""Every endpoint against every kind of caller: admin, analyst, the consumers of cx and of ops,
no token, a revoked token and an unknown one. A consumer asking for another cost centre's
statement, line, pool, driver rows, bill line, export or dispute gets 404, the same answer as
for something that does not exist; a role that may not act gets 403; no credential, 401."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Server
from tests.api.ids import look_up

ROLES = ("admin", "analyst", "cx", "ops", "anonymous", "revoked", "unknown")
OUTSIDERS = {"anonymous": 401, "revoked": 401, "unknown": 401}


def expect(admin: int, analyst: int, cx: int, ops: int) -> dict[str, int]:
    return {"admin": admin, "analyst": analyst, "cx": cx, "ops": ops, **OUTSIDERS}


EVERYONE = expect(200, 200, 200, 200)
ONLY_CX = expect(200, 200, 200, 404)
ONLY_OPS = expect(200, 200, 404, 200)
READERS_OF_ALL = expect(200, 200, 404, 404)  # unallocated cost: nobody's cost centre
STAFF = expect(200, 200, 403, 403)  # across every cost centre, not per consumer
ADMIN = expect(200, 403, 403, 403)

READS: dict[str, tuple[str, dict[str, int]]] = {
    "me": ("/api/v1/me", EVERYONE),
    "periods": ("/api/v1/periods", EVERYONE),
    "overview": ("{base}/overview", EVERYONE),
    "cost centres": ("{base}/cost-centres", EVERYONE),
    "cx statement": ("{base}/cost-centres/cx", ONLY_CX),
    "ops statement": ("{base}/cost-centres/ops", ONLY_OPS),
    "unallocated statement": ("{base}/cost-centres/__unallocated__", READERS_OF_ALL),
    "no such statement": ("{base}/cost-centres/nobody", expect(404, 404, 404, 404)),
    "cx use case": ("{base}/use-cases/bot", ONLY_CX),
    "ops use case": ("{base}/use-cases/etl", ONLY_OPS),
    "cx line": ("{base}/lines/{line_cx_gpu}", ONLY_CX),
    "ops line": ("{base}/lines/{line_ops_tagged}", ONLY_OPS),
    "unallocated line": ("{base}/lines/{line_unallocated_none}", READERS_OF_ALL),
    "no such line": ("{base}/lines/0123456789abcdef", expect(404, 404, 404, 404)),
    "cx direct pool": ("{base}/pools/{pool_cx_tagged}", ONLY_CX),
    "ops direct pool": ("{base}/pools/{pool_ops_tagged}", ONLY_OPS),
    "shared gpu pool": ("{base}/pools/{pool_cx_gpu}", EVERYONE),
    "platform pool, a cascade's source": ("{base}/pools/{platform_pool}", EVERYONE),
    "unallocated pool": ("{base}/pools/{pool_unallocated_none}", READERS_OF_ALL),
    "gpu driver rows": ("{base}/pools/{pool_cx_gpu}/drivers", EVERYONE),
    "ops driver rows by allocation": (
        "{base}/pools/{pool_ops_gpu}/drivers?allocation_id={pool_ops_gpu}:1",
        ONLY_OPS,
    ),
    "ops pool's driver rows": ("{base}/pools/{pool_ops_tagged}/drivers", ONLY_OPS),
    "bill lines": ("{base}/bill-lines", EVERYONE),
    "cx bill line": ("{base}/bill-lines/{bill_2}", ONLY_CX),
    "ops bill line": ("{base}/bill-lines/{bill_3}", ONLY_OPS),
    "shared bill line": ("{base}/bill-lines/{bill_4}", EVERYONE),
    "unallocated bill line": ("{base}/bill-lines/{bill_6}", READERS_OF_ALL),
    "ops line's bill lines": ("{base}/bill-lines?line={line_ops_tagged}", ONLY_OPS),
    "ops line's bill lines as CSV": (
        "{base}/bill-lines?line={line_ops_tagged}&format=csv",
        ONLY_OPS,
    ),
    "ops pool's bill lines": ("{base}/bill-lines?pool={pool_ops_tagged}", ONLY_OPS),
    "disputes": ("/api/v1/disputes", EVERYONE),
    "rules": ("/api/v1/rules", EVERYONE),
    "tag coverage": ("{base}/tag-coverage", STAFF),
    "unit economics": ("{base}/unit-economics", STAFF),
    "audit log": ("/api/v1/audit", ADMIN),
}


@pytest.fixture(scope="module")
def urls(reader: Server) -> dict[str, str]:
    ids = look_up(reader)
    return {name: ids.url(template) for name, (template, _) in READS.items()}


@pytest.mark.parametrize("resource", list(READS))
def test_reads(reader: Server, urls: dict[str, str], resource: str) -> None:
    _, expected = READS[resource]
    found = {who: reader.get(who, urls[resource]).status_code for who in ROLES}
    assert found == expected


# (method, url, body, expected) on a server of the test's own: these change state
WRITES: dict[str, tuple[str, dict[str, Any], dict[str, int]]] = {
    "dispute a cx line": (
        "{base}/lines/{line_cx_gpu}/disputes",
        {"reason": "we ran no GPU jobs that day"},
        # the admin comes after cx, whose dispute of the line is still open: one at a time
        expect(409, 403, 201, 404),
    ),
    "dispute an unallocated line": (
        "{base}/lines/{line_unallocated_none}/disputes",
        {"reason": "whose is this?"},
        expect(409, 403, 404, 404),  # nobody's charge: the ledger refuses, to the admin too
    ),
    "review the period": ("{base}/review", {}, ADMIN),
    "close a period not in review": ("{base}/close", {}, expect(409, 403, 403, 403)),
    "allocate": ("{base}/allocate", {}, expect(202, 403, 403, 403)),
}


@pytest.mark.parametrize("action", list(WRITES))
def test_writes(server: Server, action: str) -> None:
    template, body, expected = WRITES[action]
    url = look_up(server).url(template)
    # the admin goes last, so every other caller meets the state before the change
    order = [who for who in ROLES if who != "admin"] + ["admin"]
    found = {
        who: server.client.post(url, headers=server.headers(who), json=body).status_code
        for who in order
    }
    assert found == {who: expected[who] for who in order}


DECISIONS = {
    "review": {"reason": "looking"},
    "reject": {"reason": "the driver rows are right"},
    "accept": {"reason": "fair", "amount": "1.00"},
    "withdraw": {"reason": "never mind"},
}


@pytest.mark.parametrize("decision", list(DECISIONS))
def test_dispute_decisions(server: Server, decision: str) -> None:
    """Only an admin decides; the disputing cost centre's consumer may withdraw; the other
    consumer does not see the dispute at all."""
    ids = look_up(server)
    opened = server.client.post(
        ids.url("{base}/lines/{line_cx_gpu}/disputes"),
        headers=server.headers("cx"),
        json={"reason": "too much"},
    )
    assert opened.status_code == 201, opened.text
    url = f"/api/v1/disputes/{opened.json()['id']}/{decision}"
    if decision in ("accept", "reject"):  # decided once under review
        reviewed = server.client.post(
            url.replace(decision, "review"), headers=server.headers("admin"), json={}
        )
        assert reviewed.status_code == 200, reviewed.text
    may = 200 if decision == "withdraw" else 403
    expected = expect(200, 403, may, 404)
    order = ["analyst", "ops", "anonymous", "revoked", "unknown", "cx", "admin"]
    if decision == "withdraw":
        order.remove("admin")  # withdrawn by cx: the admin could not withdraw it again
    found = {
        who: server.client.post(
            url, headers=server.headers(who), json=DECISIONS[decision]
        ).status_code
        for who in order
    }
    assert found == {who: expected[who] for who in order}
