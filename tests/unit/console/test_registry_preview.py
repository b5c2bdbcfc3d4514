"""The Console judges Deployment images with the installation's registry, as the
Navigator does, so the UI greys out a Deployment the Navigator would refuse."""

from __future__ import annotations

from jetbridge.common.events import default_registry
from jetbridge.console.adapters import fleet_views as fv
from jetbridge.console.adapters.ledger import LedgerReadModel
from jetbridge.navigator.adapters.event_mapping import EventMapper
from tests.unit.navigator.builders import T0, cluster_events, deployment


def test_a_foreign_registry_image_is_shown_as_not_failover_ready() -> None:
    mapper = EventMapper(default_registry(), producer="navigator/test")
    model = LedgerReadModel(mapper, clock=lambda: T0, registry="registry.example.com")
    events = [
        *cluster_events("east"),
        deployment("home", "east", image="apache/airflow:3"),
        deployment("far", "east", image="ghcr.io/org/airflow:3"),
    ]
    for e in events:
        record = mapper.to_record(
            e, correlation_id=e.aggregate_id, caused_by=None, actor=None, occurred_at_ms=T0
        )
        model.ingest(record)
    views = {v.deployment_id: v for v in fv.deployment_views(model.fleet, "east")}
    assert views["home"].failover_ready and not views["home"].reasons
    assert not views["far"].failover_ready
    assert [r.code for r in views["far"].reasons] == ["IMAGE_REGISTRY_MISMATCH"]
    assert "ghcr.io/org/airflow:3" in views["far"].reasons[0].message
