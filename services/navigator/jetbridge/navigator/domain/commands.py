"""Commands: what an operator (or a clock) asks the Navigator to decide on."""

from __future__ import annotations

from dataclasses import dataclass, field

from jetbridge.navigator.domain.policy import FailoverPolicy
from jetbridge.navigator.domain.vocabulary import FailoverMode


@dataclass(frozen=True)
class RequestFailover:
    request_id: str
    source_cluster_id: str
    destination_cluster_id: str
    mode: FailoverMode
    requested_by: str
    # The operator's explicit choice to leave ineligible Deployments behind.
    exclude_ineligible: bool = False
    policy: FailoverPolicy = field(default_factory=FailoverPolicy)


@dataclass(frozen=True)
class CancelFailover:
    request_id: str
    requested_by: str


@dataclass(frozen=True)
class EnableFailover:
    cluster_id: str
    requested_by: str


@dataclass(frozen=True)
class RegisterCluster:
    cluster_id: str
    name: str
    endpoint: str
    certificate_identity: str
    failover_enabled: bool
    requested_by: str


@dataclass(frozen=True)
class DeregisterCluster:
    cluster_id: str
    requested_by: str


@dataclass(frozen=True)
class DeclareClusterLost:
    cluster_id: str
    attestation: str
    requested_by: str


Command = (
    RequestFailover
    | CancelFailover
    | EnableFailover
    | RegisterCluster
    | DeregisterCluster
    | DeclareClusterLost
)
