"""Events of the Cluster aggregate (key ``cluster_id``) and the Deployment one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from jetbridge.navigator.domain.events.base import (
    FAILOVER_TOPIC,
    ClusterEvent,
    DeploymentEvent,
)


@dataclass(frozen=True, kw_only=True)
class ClusterRegistered(ClusterEvent):
    """A data plane joined the control plane (``failover_enabled`` from its install), or
    a registered one got a new endpoint, name or certificate identity."""

    name: str
    registered_at: int
    failover_enabled: bool = False
    endpoint: str = ""  # host:port of its agent (DP-Link and the Dispatcher use it)
    certificate_identity: str = ""  # "": spiffe://jetbridge/cluster/<cluster_id>


@dataclass(frozen=True, kw_only=True)
class ClusterDeregistered(ClusterEvent):
    deregistered_at: int


@dataclass(frozen=True, kw_only=True)
class ClusterDeclaredLost(ClusterEvent):
    """An admin attested that the data plane is gone for good: copies left on it no
    longer hold its database side. A ClusterDeregistered follows."""

    declared_by: str
    attestation: str
    declared_at: int


@dataclass(frozen=True, kw_only=True)
class ClusterFactsChanged(ClusterEvent):
    """DP-Link's latest full snapshot of what the cluster reports about itself."""

    observed_at: int
    jetbridge_version: str
    plane_mode: str
    external_secrets_enabled: bool
    external_secret_manager_name: str | None
    cluster_secret_store_valid: bool
    cluster_secret_store_authenticated: bool
    log_sink_configured: bool
    database_endpoint_status: str
    deployment_ids: list[str] = field(default_factory=list)
    database_side: str | None = None  # "A" | "B": the Pilot's login role side
    cluster_secret_store_provider: str = ""  # v2: aws/SecretsManager, gcpsm, ...
    database_endpoint: str = ""  # v3: host:port the Pilot fences on; "" not reported


@dataclass(frozen=True, kw_only=True)
class ClusterHealthChanged(ClusterEvent):
    """Health crossed a threshold (transitions only, never a repeat)."""

    previous: str
    current: str
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class FailoverEnabled(ClusterEvent):
    enabled_at: int
    enabled_by: str


@dataclass(frozen=True, kw_only=True)
class FailoverEnableRefused(ClusterEvent):
    """Enabling was refused; ``deployment_ids`` lists what already runs there."""

    reason_code: str
    reason: str
    requested_by: str
    refused_at: int
    deployment_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class DeploymentCreated(DeploymentEvent):
    cluster_id: str
    name: str
    deploy_mechanism: str
    image: str
    priority: int
    created_at: int
    # v2: the Deployment's configuration (``domain.configuration``); empty lists: the
    # data plane's defaults for every component.
    component_names: list[str] = field(default_factory=list)
    component_replicas: list[int] = field(default_factory=list)
    component_cpu: list[str] = field(default_factory=list)
    component_memory: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class DeploymentUpdated(DeploymentEvent):
    deploy_mechanism: str
    image: str
    priority: int
    updated_at: int
    # v2: the configuration as it is now (replaces the one before; see DeploymentCreated)
    component_names: list[str] = field(default_factory=list)
    component_replicas: list[int] = field(default_factory=list)
    component_cpu: list[str] = field(default_factory=list)
    component_memory: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class DeploymentDeleted(DeploymentEvent):
    deleted_at: int


@dataclass(frozen=True, kw_only=True)
class DeploymentFenced(DeploymentEvent):
    """Only ``writer_cluster_id``'s role may now write this Deployment's databases."""

    TOPIC: ClassVar[str] = FAILOVER_TOPIC

    mission_id: str
    epoch: int
    writer_cluster_id: str
    fenced_at: int


@dataclass(frozen=True, kw_only=True)
class DeploymentRelocated(DeploymentEvent):
    TOPIC: ClassVar[str] = FAILOVER_TOPIC
    mission_id: str
    from_cluster_id: str
    to_cluster_id: str
    relocated_at: int
