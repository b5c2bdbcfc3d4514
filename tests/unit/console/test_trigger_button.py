"""The Trigger Failover button: the spec's rules hold on both sides, so a source with no
valid destination cannot trigger, and a destination that could not take a Deployment
back out is not offered."""

from __future__ import annotations

from jetbridge.console.adapters import fleet_views as fv
from jetbridge.navigator.domain.deployment_eligibility import tainted_clusters
from jetbridge.navigator.domain.fleet import Fleet
from tests.unit.navigator.builders import cluster_events


def test_no_valid_destination_means_no_trigger_and_says_so() -> None:
    fleet = Fleet.replay(cluster_events("src") + cluster_events("dst", external_secrets=False))
    view = fv.cluster_view(fleet, fleet.clusters["src"], seq=1, tainted=set())
    # before 2026-12-07 the list was empty: the UI said "cannot be triggered:" and no why
    assert [r.code for r in view.trigger_blockers] == ["NO_VALID_DESTINATION"]
    assert view.valid_destinations == [] and view.can_trigger_failover is False
    fleet.apply_all(cluster_events("ok"))
    view = fv.cluster_view(fleet, fleet.clusters["src"], seq=2, tainted=set())
    assert view.can_trigger_failover is True and view.valid_destinations == ["ok"]


def test_a_tainted_or_failover_disabled_destination_is_greyed_out_with_why() -> None:
    fleet = Fleet.replay(
        cluster_events("src")
        + cluster_events("held", deployment_ids=["legacy"])  # installed with failover on
        + cluster_events("off", failover_enabled=False)
    )
    options = {o.cluster_id: o for o in fv.destinations_view(fleet, "src").options}
    assert [r.code for r in options["held"].reasons] == [
        "DESTINATION_HAD_DEPLOYMENTS_BEFORE_FAILOVER"
    ]
    assert [r.code for r in options["off"].reasons] == ["DESTINATION_FAILOVER_DISABLED"]
    assert fv.destinations_view(fleet, "src").valid_destinations == []


def test_a_source_that_held_deployments_when_failover_was_enabled_cannot_trigger() -> None:
    """Registered with failover on while it held a Deployment: the UI showed an active
    button, and every request was rejected (each Deployment excluded). Now the button
    is off and names the Deployments that taint the cluster."""
    fleet = Fleet.replay(cluster_events("src", deployment_ids=["legacy"]) + cluster_events("dst"))
    tainted = tainted_clusters(fleet.clusters, fleet.deployments)
    assert tainted == {"src"}
    view = fv.cluster_view(fleet, fleet.clusters["src"], seq=1, tainted=tainted)
    assert view.can_trigger_failover is False
    (why,) = view.trigger_blockers
    assert why.code == "SOURCE_HAD_DEPLOYMENTS_BEFORE_FAILOVER" and "(legacy)" in why.message
    assert view.failover_enabled is True  # what the cluster says; the reason explains
    # dst itself is clean; its only would-be destination is the tainted src
    clean = fv.cluster_view(fleet, fleet.clusters["dst"], seq=2, tainted=tainted)
    assert [r.code for r in clean.trigger_blockers] == ["NO_VALID_DESTINATION"]
