"""Clusters: health, facts, eligibility with every reason, destinations, Deployments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from jetbridge.console.entrypoints.auth import (
    Enabler,
    Read,
    Reader,
    Registrar,
    Service,
    Undertaker,
)
from jetbridge.console.entrypoints.bodies import CLUSTER_ID, ClusterBody, LostBody
from jetbridge.console.entrypoints.errors import ERRORS
from jetbridge.console.service_layer.console import NotFound
from jetbridge.console.service_layer.views import (
    ClusterView,
    CommandAccepted,
    DeploymentView,
    DestinationsView,
)

router = APIRouter(prefix="/api/v1/clusters", tags=["clusters"], responses=ERRORS)
ClusterId = Annotated[str, Path(pattern=CLUSTER_ID)]


def _missing(cluster_id: str) -> NotFound:
    return NotFound(f"no cluster {cluster_id!r}")


@router.get("")
async def clusters(_: Reader, read: Read) -> list[ClusterView]:
    """Every cluster: health, facts, and whether (and why not) it can fail over."""
    return await read.clusters()


@router.get("/{cluster_id}")
async def cluster(cluster_id: ClusterId, _: Reader, read: Read) -> ClusterView:
    found = await read.cluster(cluster_id)
    if found is None:
        raise _missing(cluster_id)
    return found


@router.get("/{cluster_id}/destinations")
async def destinations(cluster_id: ClusterId, _: Reader, read: Read) -> DestinationsView:
    """Valid destinations for this source, and why each other cluster is not one."""
    found = await read.destinations(cluster_id)
    if found is None:
        raise _missing(cluster_id)
    return found


@router.get("/{cluster_id}/deployments")
async def deployments(cluster_id: ClusterId, _: Reader, read: Read) -> list[DeploymentView]:
    """The Deployments running there, each with its failover readiness and reasons."""
    found = await read.deployments(cluster_id)
    if found is None:
        raise _missing(cluster_id)
    return found


@router.post("", status_code=202)
async def register_cluster(body: ClusterBody, who: Registrar, service: Service) -> CommandAccepted:
    """Admin: register a data plane (where DP-Link and the Dispatcher reach its agent),
    or give a registered one a new endpoint, name or certificate identity."""
    return await service.register_cluster(who, body.model_dump())


@router.delete("/{cluster_id}", status_code=202)
async def deregister_cluster(
    cluster_id: ClusterId, who: Registrar, service: Service
) -> CommandAccepted:
    """Admin: take a data plane off the control plane (refused while it holds Deployments,
    or a failover, a flight or a clean-up still needs it)."""
    return await service.deregister_cluster(who, cluster_id)


@router.post("/{cluster_id}/enable-failover", status_code=202)
async def enable_failover(cluster_id: ClusterId, who: Enabler, service: Service) -> CommandAccepted:
    """Admin: put a cluster under failover management (refused if it has Deployments)."""
    return await service.enable_failover(who, cluster_id)


@router.post("/{cluster_id}/declare-lost", status_code=202)
async def declare_lost(
    cluster_id: ClusterId, body: LostBody, who: Undertaker, service: Service
) -> CommandAccepted:
    """Admin: attest that an unreachable data plane is gone for good (destroyed, or cut
    off and wiped). Its open flights are ended, its source clean-ups given up, copies
    left there stop holding its database side, and it is deregistered. Refused while it
    answers heartbeats, holds Deployments not failed over, or a failover names it."""
    return await service.declare_lost(who, cluster_id, body.attestation)
