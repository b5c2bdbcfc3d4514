"""Dispatcher settings from ``JETBRIDGE_DISPATCHER_*``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings

from jetbridge.common.settings import DEFAULT_STATE_DIR, load_stack_settings, service_config
from jetbridge.common.topics import CLUSTER_EVENTS, FAILOVER_EVENTS


def _kafka() -> str:
    return load_stack_settings().kafka_bootstrap_servers


class DispatcherSettings(BaseSettings):
    model_config = service_config("JETBRIDGE_DISPATCHER_", frozen=True)

    kafka_bootstrap_servers: str = Field(default_factory=_kafka)
    group_id: str = "jetbridge-dispatcher"
    work_topic: str = FAILOVER_EVENTS
    state_topics: tuple[str, ...] = (FAILOVER_EVENTS, CLUSTER_EVENTS)
    outcomes_topic: str | None = Field(
        default=None, description="Override the schemas' topic (sandboxes); None in production"
    )
    dead_letter_topic: str | None = None
    tls_dir: Path = DEFAULT_STATE_DIR / "tls"
    max_attempts: int = 6
    call_deadline_s: float = 5.0
    backoff_base_s: float = 0.2
    backoff_cap_s: float = 5.0
    registration_wait_s: float = 10.0
    # Flights dispatched at once (each flight's decisions still one at a time, in
    # order); 1 is the old serial Dispatcher.
    concurrency: int = Field(default=64, ge=1)
    # StartFlight/ClearSteps calls to one data plane that wait together go as one batch
    # call (adapters/batching.py); false: one call per flight, as before.
    batch_calls: bool = True
    log_level: str = "INFO"
