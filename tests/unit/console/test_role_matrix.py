"""Every endpoint x every caller: who gets in, who gets 401 or 403, and what is sent.

The table is checked against the OpenAPI document, so an endpoint added without a
row here fails this test. A refused write never reaches the command sender.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.unit.console.world import TOKENS, make_world
from tests.unit.navigator.builders import cluster_events

CALLERS = ("anonymous", "bad-token", "viewer", "operator", "admin")
RANK = {"anonymous": 0, "bad-token": 0, "viewer": 1, "operator": 2, "admin": 3}
START = {"source_cluster_id": "east", "destination_cluster_id": "west", "mode": "CONTROLLED"}


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # as in the OpenAPI document
    url: str  # what the test calls
    needs: str  # "public", "viewer", "operator" or "admin"
    ok: int
    body: dict[str, Any] | None = None
    sends: str | None = None  # the command an allowed call emits


MATRIX = [
    Row("GET", "/api/v1/health", "/api/v1/health", "public", 200),
    Row("GET", "/api/v1/whoami", "/api/v1/whoami", "viewer", 200),
    Row("GET", "/api/v1/modes", "/api/v1/modes", "viewer", 200),
    Row("GET", "/api/v1/clusters", "/api/v1/clusters", "viewer", 200),
    Row("GET", "/api/v1/clusters/{cluster_id}", "/api/v1/clusters/east", "viewer", 200),
    Row(
        "GET",
        "/api/v1/clusters/{cluster_id}/destinations",
        "/api/v1/clusters/east/destinations",
        "viewer",
        200,
    ),
    Row(
        "GET",
        "/api/v1/clusters/{cluster_id}/deployments",
        "/api/v1/clusters/east/deployments",
        "viewer",
        200,
    ),
    Row(
        "POST",
        "/api/v1/clusters",
        "/api/v1/clusters",
        "admin",
        202,
        {"cluster_id": "newbie", "endpoint": "agent.newbie:8443"},
        sends="RegisterCluster",
    ),
    Row(
        "DELETE",
        "/api/v1/clusters/{cluster_id}",
        "/api/v1/clusters/newbie",
        "admin",
        202,
        sends="DeregisterCluster",
    ),
    Row(
        "POST",
        "/api/v1/clusters/{cluster_id}/enable-failover",
        "/api/v1/clusters/newbie/enable-failover",
        "admin",
        202,
        sends="EnableFailover",
    ),
    Row(
        "POST",
        "/api/v1/clusters/{cluster_id}/declare-lost",
        "/api/v1/clusters/newbie/declare-lost",
        "admin",
        202,
        {"attestation": "datacentre flooded, INC-1", "confirm_lost": True},
        sends="DeclareClusterLost",
    ),
    Row("POST", "/api/v1/failovers/plan", "/api/v1/failovers/plan", "viewer", 200, START),
    Row(
        "POST",
        "/api/v1/failovers",
        "/api/v1/failovers",
        "operator",
        202,
        START,
        sends="RequestFailover",
    ),
    Row("GET", "/api/v1/failovers", "/api/v1/failovers", "viewer", 200),
    Row("GET", "/api/v1/failovers/{request_id}", "/api/v1/failovers/fo-running-1", "viewer", 200),
    Row(
        "POST",
        "/api/v1/failovers/{request_id}/cancel",
        "/api/v1/failovers/fo-running-1/cancel",
        "operator",
        202,
        sends="CancelFailover",
    ),
    Row("GET", "/api/v1/events", "/api/v1/events", "viewer", 200),
    # The stream never ends: allowed callers are covered on a real server (integration).
    Row("GET", "/api/v1/stream", "/api/v1/stream", "viewer", 200),
]


def expected(row: Row, caller: str) -> int:
    if row.needs == "public":
        return row.ok
    if caller in ("anonymous", "bad-token"):
        return 401
    return row.ok if RANK[caller] >= RANK[row.needs] else 403


def test_the_matrix_names_every_endpoint_of_the_openapi_document() -> None:
    world = make_world()
    documented = {
        (method.upper(), path)
        for path, ops in world.app.openapi()["paths"].items()
        for method in ops
    }
    assert documented == {(r.method, r.path) for r in MATRIX}


# The stream never ends, which ASGITransport cannot hand back: its allowed callers are
# tested on a real server (tests/integration/console/test_api.py); its 401s are here.
CASES = [
    (row, caller)
    for row in MATRIX
    for caller in CALLERS
    if not (row.url.endswith("/stream") and expected(row, caller) == row.ok)
]


@pytest.mark.parametrize(("row", "caller"), CASES, ids=lambda x: getattr(x, "url", x))
async def test_role_matrix(row: Row, caller: str) -> None:
    world = make_world()
    world.feed(cluster_events("newbie", failover_enabled=False))
    want = expected(row, caller)
    headers = {}
    if caller == "bad-token":
        headers["Authorization"] = "Bearer not-a-known-token-0000"
    elif caller in TOKENS:
        headers["Authorization"] = f"Bearer {TOKENS[caller]}"
    async with world.client() as client:
        response = await client.request(row.method, row.url, json=row.body, headers=headers)
    assert response.status_code == want, response.text
    sent = [c.event_type for c in world.sender.sent]
    if want == row.ok and row.sends:
        assert sent == [row.sends]
        assert world.sender.sent[0].envelope.actor == f"{caller}@example.com"
    else:
        assert sent == [], f"{caller} {row.method} {row.url} sent {sent}"
    if want in (401, 403):
        body = response.json()
        assert body["error"] == ("UNAUTHENTICATED" if want == 401 else "FORBIDDEN")
        if want == 403:
            assert f"needs the {row.needs} role" in body["message"]


@pytest.mark.parametrize("header", ["²".encode("latin-1"), b"12abc", b"-1", b"%d" % 2**63])
async def test_a_last_event_id_that_is_not_a_seq_is_refused_naming_it(header: bytes) -> None:
    """A browser's EventSource resends the last ``id`` it got; anything else is a bad
    request (422 naming the header), not a crash (it was a 500 for "²", a digit)."""
    world = make_world()
    headers = {"Authorization": f"Bearer {TOKENS['viewer']}".encode(), b"Last-Event-ID": header}
    async with world.client() as client:
        response = await client.get("/api/v1/stream", headers=headers)
    assert response.status_code == 422, response.text
    assert "last-event-id" in response.text, response.text
