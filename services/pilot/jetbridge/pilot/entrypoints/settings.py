"""Pilot settings from ``JETBRIDGE_PILOT_*`` (one Pilot process per data plane replica)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings

from jetbridge.common.settings import service_config
from jetbridge.common.sql.dsn import server_endpoint


def _owner() -> str:
    return f"pilot-{socket.gethostname()}-{os.getpid()}"


# Below this, a StartFlight retried or delivered late by a stalled Dispatcher replica
# could find its flight's row (or its cancellation's tombstone) already deleted and run
# the flight again: a retention of 0 would allow exactly that.
FLIGHTS_KEEP_FLOOR_S = 3_600.0


class PilotSettings(BaseSettings):
    model_config = service_config("JETBRIDGE_PILOT_", frozen=True)

    owner: str = Field(default_factory=_owner, description="lease owner name of this replica")
    cluster_name: str
    cluster_adapter: Literal["kubernetes", "memory"] = Field(
        default="kubernetes",
        description="memory: the in-memory twin of a cluster (benchmarks of the "
        "orchestration only; the objects live and die with this process)",
    )
    kubeconfig: Path | None = Field(default=None, description="required with 'kubernetes'")
    memory_secret_store_dir: Path | None = Field(
        default=None,
        description="memory adapter: the secret store as a directory shared by the Pilots "
        "of every cluster (a file per remote key); None: private to this process",
    )
    flightdeck_dsn: str
    database_admin_dsn: str = Field(description="the non-superuser fencing role's DSN")
    database_endpoint: str = Field(
        default="",
        description="host:port the admin DSN must name (the agent reports it; the control "
        "plane refuses a failover between clusters on different servers)",
    )
    database_side: str = Field(pattern="^[ABab]$", description="this cluster's login role side")
    database_prefix: str = "airflow_"
    database_users: Literal["apc", "customer"] = Field(
        default="apc",
        description="who creates each Deployment's two login roles: apc (the Pilot, "
        "needs CREATEROLE, or CREATE USER on MySQL) or customer (the customer, with "
        "customer_setup_postgresql.sql or customer_setup_mysql.sql, writing each login's "
        "password to the store)",
    )
    fencing_state_database: str = Field(
        default="jetbridge_fencing",
        min_length=1,
        description="Jetbridge's own database on the server, holding the "
        "fencing epochs (every Pilot fencing on one server must name the same one)",
    )
    outbox_keep_s: float = Field(
        default=86_400.0,
        ge=0,
        description="seconds a published Flightdeck outbox row is kept (Kafka keeps the event)",
    )
    flights_keep_s: float = Field(
        default=7 * 86_400.0,
        ge=FLIGHTS_KEEP_FLOOR_S,
        description="seconds a finished flight is kept in dp_flights: its row is what makes "
        "a repeated StartFlight a no-op (and a cancelled flight's tombstone refuses a late "
        "one), so keep it longer than any redelivery of a finished Mission's decisions "
        "could take; at least an hour",
    )
    fencing_pool_size: int = Field(
        default=8,
        ge=1,
        description="PostgreSQL: connections this Pilot keeps to the state database, i.e. "
        "how many fences it runs at once on one server",
    )
    task_instances_dsn: str | None = Field(
        default=None, description="who reads task_instance for the drain (default: admin DSN)"
    )
    secret_store: str = "jetbridge-secrets"
    # Secrets granted per namespace (Helm pilot.rbac.secretsPerNamespace): the
    # ClusterRole to bind in each namespace CREATE_NAMESPACE makes, and to whom.
    secrets_role: str = Field(default="", description="ClusterRole bound per namespace")
    service_account: str = Field(
        default="", description="this Pilot's ServiceAccount as namespace/name"
    )
    image_pull_secret: str = Field(
        default="",
        description="this cluster's registry credentials as namespace/name (a "
        "kubernetes.io/dockerconfigjson Secret), copied into each namespace the Pilot makes "
        "and named by its pods; empty: the nodes pull on their own",
    )
    kafka_bootstrap_servers: str | None = Field(
        default=None, description="None: no relay in this process (another one publishes)"
    )
    topic_prefix: str = ""
    topic_override: str | None = Field(default=None, description="all events to one topic (tests)")
    max_flights: int = Field(default=16, ge=1)
    lease_seconds: float = Field(default=30.0, gt=0)
    poll_interval_s: float = Field(default=0.5, gt=0)
    default_deadline_s: float = Field(default=300.0, gt=0)
    start_report_after_s: float = Field(
        default=1.0,
        ge=0,
        description="a step still running after this reports its start on its own; a "
        "quicker one commits its start with its outcome (one transaction instead of two)",
    )
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _adapter_needs(self) -> PilotSettings:
        if self.cluster_adapter == "kubernetes" and self.kubeconfig is None:
            raise ValueError("JETBRIDGE_PILOT_KUBECONFIG is required with the kubernetes adapter")
        named = server_endpoint(self.database_admin_dsn) if self.database_endpoint else ""
        if self.database_endpoint and self.database_endpoint.lower() != named:
            raise ValueError(
                f"JETBRIDGE_PILOT_DATABASE_ENDPOINT is {self.database_endpoint!r} but the "
                f"admin DSN names {named or 'no host'!r}: the agent would report a server "
                "this Pilot does not fence on"
            )
        if self.image_pull_secret and not _namespaced(self.image_pull_secret):
            raise ValueError(
                "JETBRIDGE_PILOT_IMAGE_PULL_SECRET names a Secret as namespace/name, got "
                f"{self.image_pull_secret!r}"
            )
        if self.secrets_role and not _namespaced(self.service_account):
            raise ValueError(
                "JETBRIDGE_PILOT_SECRETS_ROLE needs JETBRIDGE_PILOT_SERVICE_ACCOUNT as "
                f"namespace/name (the account the RoleBindings name), got {self.service_account!r}"
            )
        return self


def _namespaced(name: str) -> bool:
    """``namespace/name``: two non-empty parts."""
    return len([p for p in name.split("/") if p]) == 2 and name.count("/") == 1
