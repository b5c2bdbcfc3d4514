"""The agent's settings, from ``JETBRIDGE_AGENT_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings

from jetbridge.common.settings import DEFAULT_STATE_DIR, service_config


class AgentSettings(BaseSettings):
    model_config = service_config("JETBRIDGE_AGENT_", frozen=True)

    cluster_id: str = Field(description="This data plane's cluster id (its certificate's identity)")
    listen: str = Field(default="127.0.0.1:50051", description="host:port of the gRPC server")
    flightdeck_dsn: str = Field(description="postgresql://... or mysql://... of dp_flights")
    tls_dir: Path = Field(
        default=DEFAULT_STATE_DIR / "tls", description="CA and certificates (local stack layout)"
    )
    heartbeat_interval_s: float = Field(default=1.0, gt=0)
    facts_file: Path | None = Field(default=None, description="JSON facts for the static source")
    database_side: str | None = Field(
        default=None,
        pattern="^[ABab]$",
        description="The cluster's database side (the Pilot's JETBRIDGE_PILOT_DATABASE_SIDE), "
        "reported in the facts; overrides the facts file's",
    )
    database_endpoint: str | None = Field(
        default=None,
        description="host:port of the database server the Pilot fences on (the Pilot's "
        "JETBRIDGE_PILOT_DATABASE_ENDPOINT), reported in the facts; overrides the file's",
    )
    # The ClusterSecretStore observed for the eligibility facts (the Pilot's
    # JETBRIDGE_PILOT_SECRET_STORE). Unset: the facts file's store status is reported.
    secret_store: str | None = Field(default=None, description="ClusterSecretStore to observe")
    kubeconfig: Path | None = Field(
        default=None, description="this cluster's kubeconfig; unset: the pod's ServiceAccount"
    )
    secret_store_refresh_s: float = Field(default=10.0, gt=0)
    # Where the Deployment inventory comes from: "cluster" lists the namespaces the
    # Pilot labels and adds the facts file's list (what a real data plane runs,
    # deploy/helm); "facts" takes the file's list alone (in-memory benchmarks, where the
    # Pilot's objects are not on a cluster).
    inventory_from: Literal["cluster", "facts"] = Field(default="facts")
    inventory_refresh_s: float = Field(default=10.0, gt=0)
    log_level: str = "INFO"
