"""What a data plane reports about itself in every heartbeat (values, no I/O).

These are the inputs of the failover eligibility rules: plane mode, external secrets,
the ClusterSecretStore, failoverEnabled and the Deployment inventory. Secret values
never appear here, only names and statuses.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SecretStoreStatus:
    name: str = ""
    ready: bool = False
    authenticated: bool = False
    message: str = ""
    provider: str = ""  # see provider_of (domain/secret_store.py); "": not observed


@dataclass(frozen=True, slots=True)
class DeploymentFact:
    deployment_id: str
    deploy_mechanism: str  # IMAGE, GIT_SYNC, DAG_ONLY
    created_at_ms: int
    image: str = ""


@dataclass(frozen=True, slots=True)
class ClusterFacts:
    jetbridge_version: str = ""
    # CONTROL, DATA, UNIFIED; "" when not reported: the control plane then reads
    # UNKNOWN and refuses failover (the spec: "not supported in unified mode", so the
    # mode must be stated, not assumed)
    plane_mode: str = ""
    external_secrets_enabled: bool = False
    external_secret_manager_name: str = ""
    cluster_secret_store: SecretStoreStatus = field(default_factory=SecretStoreStatus)
    failover_enabled: bool = False
    failover_enabled_at_ms: int = 0
    deployments: tuple[DeploymentFact, ...] = ()
    log_sink_configured: bool = False
    database_endpoint_status: str = "UNKNOWN"  # PRIMARY, READ_ONLY_REPLICA, UNREACHABLE
    # "A" or "B": the login role of each Deployment this cluster's Pilot uses; "" unknown.
    database_side: str = ""
    # host:port of the database server the Pilot fences on (lowercased); "" unknown.
    database_endpoint: str = ""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """A local health check; one failing check makes DP-Link mark the cluster DEGRADED."""

    name: str
    ok: bool
    message: str = ""
