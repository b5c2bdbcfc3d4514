"""Registering a data plane through the API: checked at once, decided by the Navigator."""

from __future__ import annotations

import pytest

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.commands import RegisterCluster
from tests.unit.console.world import make_world

BODY = {"cluster_id": "dp-north", "endpoint": "agent.dp-north.svc:8443", "failover_enabled": True}


async def test_bad_input_is_refused_at_once_naming_the_field_and_nothing_is_sent() -> None:
    world = make_world()
    async with world.client("admin") as admin:
        r = await admin.post("/api/v1/clusters", json=BODY | {"endpoint": "agent.svc:99999"})
        assert r.status_code == 422
        assert "endpoint 'agent.svc:99999': host:port of the agent, port 1-65535" in r.text
        r = await admin.post("/api/v1/clusters", json=BODY | {"certificate_identity": "dp"})
        assert r.status_code == 422 and "certificate_identity 'dp'" in r.text
        r = await admin.post("/api/v1/clusters", json=BODY | {"endpont": "typo:1"})
        assert r.status_code == 422 and "endpont" in r.text  # an unknown field is an error
    assert world.sender.sent == []


@pytest.mark.parametrize("answer_in_time", [True, False])
async def test_a_registration_is_answered_once_the_ledger_shows_it(answer_in_time: bool) -> None:
    world = make_world()
    async with world.client("admin") as admin:
        if answer_in_time:  # the Navigator's decision, on the ledger before the answer is read
            command = RegisterCluster(
                cluster_id="dp-north",
                name="",
                endpoint=BODY["endpoint"],  # type: ignore[arg-type]
                certificate_identity="",
                failover_enabled=True,
                requested_by="admin@example.com",
            )
            world.feed(world.model.fleet.decide(command, world.now))
        r = await admin.post("/api/v1/clusters", json=BODY)
    assert r.status_code == 202
    body = r.json()
    assert (body["command_type"], body["subject_id"], body["actor"]) == (
        "RegisterCluster",
        "dp-north",
        "admin@example.com",
    )
    assert body["answered"] is answer_in_time and body["refusal"] is None
    (sent,) = world.sender.sent
    assert sent.payload == {
        "cluster_id": "dp-north",
        "endpoint": "agent.dp-north.svc:8443",
        "name": "",
        "certificate_identity": "",
        "failover_enabled": True,
    }
    assert sent.envelope.actor == "admin@example.com"


async def test_a_deregistration_is_answered_once_the_ledger_shows_it() -> None:
    world = make_world()
    async with world.client("admin") as admin:
        r = await admin.delete("/api/v1/clusters/nowhere")
        assert r.status_code == 404 and world.sender.sent == []
        r = await admin.delete("/api/v1/clusters/east")
        assert r.status_code == 202 and r.json()["answered"] is False  # no answer in time
        (command,) = world.sender.sent
        assert (command.event_type, command.payload) == (
            "DeregisterCluster",
            {"cluster_id": "east"},
        )
        world.feed([ev.ClusterDeregistered(cluster_id="west", deregistered_at=world.now)])
        r = await admin.delete("/api/v1/clusters/west")
        assert r.status_code == 202 and r.json()["answered"] is True
