"""DP-Link settings from ``JETBRIDGE_DPLINK_*`` (Kafka from ``JETBRIDGE_KAFKA_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings

from jetbridge.common.settings import DEFAULT_STATE_DIR, load_stack_settings, service_config
from jetbridge.common.topics import CLUSTER_EVENTS


def _kafka() -> str:
    return load_stack_settings().kafka_bootstrap_servers


class DPLinkSettings(BaseSettings):
    model_config = service_config("JETBRIDGE_DPLINK_", frozen=True)

    kafka_bootstrap_servers: str = Field(default_factory=_kafka)
    group_id: str = "jetbridge-dplink"
    registration_topic: str = CLUSTER_EVENTS
    events_topic: str | None = Field(
        default=None, description="Override the schemas' topic (sandboxes); None in production"
    )
    tls_dir: Path = DEFAULT_STATE_DIR / "tls"
    heartbeat_interval_s: float = 1.0
    degraded_after_s: float = 3.0
    unreachable_after_s: float = 10.0
    recover_heartbeats: int = 3
    reconnect_base_s: float = 0.2
    reconnect_cap_s: float = 10.0
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    log_level: str = "INFO"
