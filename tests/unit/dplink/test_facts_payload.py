"""A heartbeat's facts become a ClusterFactsChanged the Navigator reads back whole."""

from __future__ import annotations

from jetbridge.agent.adapters.convert import heartbeat_to_proto
from jetbridge.agent.domain.facts import ClusterFacts, SecretStoreStatus
from jetbridge.agent.service_layer.heartbeats import Beat
from jetbridge.common.events import EventCodec
from jetbridge.dplink.adapters.convert import facts_payload
from jetbridge.dplink.service_layer.monitor import HealthMonitor
from jetbridge.navigator.adapters.event_mapping import EventMapper
from jetbridge.navigator.domain import events as ev


def test_the_store_provider_and_database_endpoint_travel_from_the_agent_to_the_navigator() -> None:
    store = SecretStoreStatus("jetbridge-secrets", True, True, "ok", "gcpsm")
    facts = ClusterFacts(cluster_secret_store=store, database_endpoint="db.example:5432")
    beat = Beat("dp-east", 1, 1_000, facts, ())
    message = heartbeat_to_proto(beat)  # what the agent sends on its Link stream
    payload = {"cluster_id": "dp-east", **facts_payload(message.heartbeat)}
    assert payload["cluster_secret_store_provider"] == "gcpsm"
    event = HealthMonitor._event("ClusterFactsChanged", "dp-east", payload)
    assert event.envelope.schema_version == 3
    codec = EventCodec()
    decoded = codec.decode(codec.encode(event))
    domain = EventMapper(codec.registry, "navigator").to_domain(decoded)
    assert isinstance(domain, ev.ClusterFactsChanged)
    assert domain.cluster_secret_store_provider == "gcpsm"
    assert domain.database_endpoint == "db.example:5432"
