"""Pilot settings from ``JETBRIDGE_PILOT_*`` (one Pilot process per data plane replica)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _owner() -> str:
    return f"pilot-{socket.gethostname()}-{os.getpid()}"


class PilotSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JETBRIDGE_PILOT_", extra="ignore", frozen=True)

    owner: str = Field(default_factory=_owner, description="lease owner name of this replica")
    cluster_name: str
    kubeconfig: Path
    flightdeck_dsn: str
    database_admin_dsn: str = Field(description="the non-superuser fencing role's DSN")
    database_side: str = Field(pattern="^[ABab]$", description="this cluster's login role side")
    database_prefix: str = "airflow_"
    task_instances_dsn: str | None = Field(
        default=None, description="who reads task_instance for the drain (default: admin DSN)"
    )
    registry: str = "registry.jetbridge.local"
    secret_store: str = "jetbridge-secrets"
    kafka_bootstrap_servers: str | None = Field(
        default=None, description="None: no relay in this process (another one publishes)"
    )
    topic_prefix: str = ""
    topic_override: str | None = Field(default=None, description="all events to one topic (tests)")
    max_flights: int = Field(default=16, ge=1)
    lease_seconds: float = Field(default=30.0, gt=0)
    poll_interval_s: float = Field(default=0.5, gt=0)
    default_deadline_s: float = Field(default=300.0, gt=0)
    log_level: str = "INFO"
