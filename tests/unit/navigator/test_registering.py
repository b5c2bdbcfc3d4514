"""Registering and deregistering a data plane: decided by the Navigator, repeats and
changes included."""

from __future__ import annotations

import pytest

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.commands import DeregisterCluster, RegisterCluster, RequestFailover
from jetbridge.navigator.domain.errors import CommandRefused, IllegalEvent
from jetbridge.navigator.domain.fleet import Fleet
from jetbridge.navigator.domain.vocabulary import FailoverMode, Health, RequestStatus
from tests.unit.navigator.builders import cluster_events, deployment, health
from tests.unit.navigator.sim import Simulation

T0 = 1_700_000_000_000


def register(cluster_id: str = "dp-east", **changes: object) -> RegisterCluster:
    fields: dict[str, object] = {
        "cluster_id": cluster_id,
        "name": "",
        "endpoint": "agent.dp-east.svc:8443",
        "certificate_identity": "",
        "failover_enabled": True,
        "requested_by": "alice",
    }
    return RegisterCluster(**(fields | changes))  # type: ignore[arg-type]


def test_a_new_cluster_is_registered_with_its_endpoint() -> None:
    fleet = Fleet()
    (registered,) = fleet.decide(register(), T0)
    assert registered == ev.ClusterRegistered(
        cluster_id="dp-east",
        name="dp-east",  # the id when no name is given
        registered_at=T0,
        failover_enabled=True,
        endpoint="agent.dp-east.svc:8443",
        certificate_identity="",
    )
    fleet.apply(registered)
    cluster = fleet.clusters["dp-east"]
    assert cluster.registered and cluster.failover_enabled and cluster.awaiting_first_inventory
    assert cluster.endpoint == "agent.dp-east.svc:8443"


def test_a_repeat_decides_nothing_and_a_change_keeps_the_failover_state() -> None:
    fleet = Fleet()
    fleet.apply_all(fleet.decide(register(), T0))
    fleet.clusters["dp-east"].awaiting_first_inventory = False  # its first inventory came
    assert fleet.decide(register(), T0 + 1) == []  # a retried request
    # A new endpoint, and a request that says failover is off: registering does not
    # switch failover (EnableFailover does), nor reset the inventory it was judged on.
    moved = register(endpoint="10.0.0.7:9443", failover_enabled=False, name="East")
    (again,) = fleet.decide(moved, T0 + 2)
    assert (again.endpoint, again.name, again.failover_enabled) == ("10.0.0.7:9443", "East", True)
    fleet.apply(again)
    cluster = fleet.clusters["dp-east"]
    assert (cluster.endpoint, cluster.name, cluster.registered_at) == ("10.0.0.7:9443", "East", T0)
    assert cluster.failover_enabled and not cluster.awaiting_first_inventory


def test_a_deregistered_cluster_id_is_not_used_again() -> None:
    fleet = Fleet()
    fleet.apply_all(fleet.decide(register(), T0))
    fleet.apply(ev.ClusterDeregistered(cluster_id="dp-east", deregistered_at=T0 + 1))
    with pytest.raises(CommandRefused, match="CLUSTER_DEREGISTERED"):
        fleet.decide(register(), T0 + 2)
    with pytest.raises(IllegalEvent):  # nor may anyone publish it around the Navigator
        fleet.apply(ev.ClusterRegistered(cluster_id="dp-east", name="x", registered_at=T0 + 3))


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"cluster_id": "-east"}, "cluster_id '-east'"),
        ({"cluster_id": "a" * 129}, "cluster_id"),
        ({"endpoint": ""}, "endpoint ''"),
        ({"endpoint": "agent.svc"}, "endpoint 'agent.svc'"),
        ({"endpoint": "agent.svc:0"}, "port 1-65535"),
        ({"endpoint": "agent.svc:70000"}, "port 1-65535"),
        ({"endpoint": "http://agent.svc:443"}, "endpoint 'http://agent.svc:443'"),
        ({"certificate_identity": "dp-east"}, "certificate_identity 'dp-east'"),
        ({"certificate_identity": "spiffe://"}, "a spiffe:// URI"),
        ({"name": "east\n"}, "name: at most 253 printable"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_changes_nothing(
    changes: dict[str, object], named: str
) -> None:
    fleet = Fleet()
    with pytest.raises(CommandRefused, match="INVALID_REGISTRATION") as refused:
        fleet.decide(register(**changes), T0)
    assert named in refused.value.message
    assert fleet.clusters == {}


@pytest.mark.parametrize(
    "endpoint", ["agent:1", "10.1.2.3:8443", "[fd00::1]:8443", "a.b-c.example.com:65535"]
)
def test_endpoints_an_agent_can_have_are_accepted(endpoint: str) -> None:
    (registered,) = Fleet().decide(
        register(endpoint=endpoint, certificate_identity="spiffe://acme/cluster/east"), T0
    )
    assert isinstance(registered, ev.ClusterRegistered) and registered.endpoint == endpoint


def refused_deregistration(sim: Simulation, cluster_id: str) -> str:
    with pytest.raises(CommandRefused) as refused:
        sim.command(DeregisterCluster(cluster_id, "alice"))
    return str(refused.value)


def test_deregistering_waits_until_nothing_needs_the_cluster() -> None:
    """Once deregistered, nothing links or dispatches to a cluster: whatever still
    needs it (Deployments, a failover, a clean-up to come) would be stranded there."""
    sim = Simulation(
        cluster_events("a")
        + cluster_events("b")
        + [deployment("d0", "a"), deployment("d1", "a", priority=1)]
    )
    assert "holds 2 Deployment(s), e.g. 'd0'" in refused_deregistration(sim, "a")
    sim.record([health("a", Health.HEALTHY, Health.UNREACHABLE)])
    sim.command(RequestFailover("r1", "a", "b", FailoverMode.FORCED, "alice"))
    assert "failover 'r1' names it and is PENDING" in refused_deregistration(sim, "b")
    sim.run()  # Forced from an unreachable source: SUCCEEDED, its clean-ups to come
    assert sim.fleet.requests["r1"].status is RequestStatus.SUCCEEDED
    assert "mission 'r1/d0' has still to clean its Deployment up there" in (
        refused_deregistration(sim, "a")
    )
    assert "holds 2 Deployment(s)" in refused_deregistration(sim, "b")  # they live there now
    sim.record([health("a", Health.UNREACHABLE, Health.HEALTHY)])
    sim.run()  # the clean-ups ran
    (gone,) = sim.command(DeregisterCluster("a", "alice"))
    assert gone == ev.ClusterDeregistered(cluster_id="a", deregistered_at=sim.now)
    assert not sim.fleet.clusters["a"].registered
    assert sim.fleet.decide(DeregisterCluster("a", "alice"), sim.now) == []  # a repeat
    with pytest.raises(IllegalEvent):  # its link's last word is not taken any more
        sim.fleet.apply(health("a", Health.HEALTHY, Health.UNREACHABLE))


def test_deregistering_an_unknown_cluster_is_refused() -> None:
    with pytest.raises(CommandRefused, match="CLUSTER_NOT_REGISTERED: cluster 'x'"):
        Fleet().decide(DeregisterCluster("x", "alice"), T0)
