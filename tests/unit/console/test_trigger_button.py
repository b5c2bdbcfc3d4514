"""The Trigger Failover button: the spec's rules hold on both sides, so a source with no
valid destination cannot trigger, and a destination that could not take a Deployment
back out is not offered."""

from __future__ import annotations

from jetbridge.console.adapters import fleet_views as fv
from jetbridge.navigator.domain.fleet import Fleet
from tests.unit.navigator.builders import cluster_events


def test_no_valid_destination_means_no_trigger() -> None:
    fleet = Fleet.replay(cluster_events("src") + cluster_events("dst", external_secrets=False))
    view = fv.cluster_view(fleet, fleet.clusters["src"], seq=1, tainted=set())
    assert view.trigger_blockers == [] and view.valid_destinations == []
    assert view.can_trigger_failover is False
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
