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


LOST = {"attestation": "region eu-1 destroyed in INC-4521", "confirm_lost": True}


async def test_a_declaration_must_say_why_and_be_confirmed_and_nothing_is_sent_otherwise() -> None:
    world = make_world()
    async with world.client("admin") as admin:
        url = "/api/v1/clusters/gray/declare-lost"
        r = await admin.post(url, json=LOST | {"confirm_lost": False})
        assert r.status_code == 422, r.text
        assert r.json()["problems"][0]["field"] == "confirm_lost"
        assert "set confirm_lost to true" in r.text
        r = await admin.post(url, json=LOST | {"attestation": "gone"})
        assert r.status_code == 422 and r.json()["problems"][0]["field"] == "attestation"
        assert "10-2000 characters saying why" in r.text
        r = await admin.post(url, json={"attestation": LOST["attestation"]})
        assert r.status_code == 422 and "confirm_lost" in r.text  # it must be said
        r = await admin.post("/api/v1/clusters/nowhere/declare-lost", json=LOST)
        assert r.status_code == 404
    assert world.sender.sent == []


async def test_a_declaration_is_sent_with_its_attestation_and_answered_from_the_ledger() -> None:
    world = make_world()
    async with world.client("admin") as admin:
        r = await admin.post("/api/v1/clusters/gray/declare-lost", json=LOST)
        assert r.status_code == 202 and r.json()["answered"] is False  # no answer in time
        (sent,) = world.sender.sent
        assert (sent.event_type, sent.payload, sent.envelope.actor) == (
            "DeclareClusterLost",
            {"cluster_id": "gray", "attestation": LOST["attestation"]},
            "admin@example.com",
        )
        declared = ev.ClusterDeclaredLost(
            cluster_id="gray",
            declared_by="admin@example.com",
            attestation=LOST["attestation"],
            declared_at=world.now,
        )
        world.feed([declared, ev.ClusterDeregistered(cluster_id="gray", deregistered_at=world.now)])
        r = await admin.post("/api/v1/clusters/gray/declare-lost", json=LOST)  # a repeat
        assert r.status_code == 202 and r.json()["answered"] is True
        view = (await admin.get("/api/v1/clusters/gray")).json()
    assert (view["registration"], view["declared_lost_by"], view["lost_attestation"]) == (
        "DEREGISTERED",
        "admin@example.com",
        LOST["attestation"],
    )
