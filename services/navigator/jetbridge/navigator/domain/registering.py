"""Registering and deregistering a data plane: the Navigator, the one writer of
clusters, decides both.

A registration says where DP-Link and the Dispatcher reach the cluster's agent
(``endpoint``) and which certificate identity the agent must present. Decided here,
not published by whoever asks, so that two operators registering one id at once get
one answer each (the second is a repeat or a change, in log order), and bad input is
refused with a reason before any service dials it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.cluster import Cluster
from jetbridge.navigator.domain.commands import DeregisterCluster, RegisterCluster
from jetbridge.navigator.domain.deployment import Deployment
from jetbridge.navigator.domain.errors import CommandRefused
from jetbridge.navigator.domain.failover_request import FailoverRequest
from jetbridge.navigator.domain.flight import Flight
from jetbridge.navigator.domain.mission import Mission
from jetbridge.navigator.domain.vocabulary import CleanupStatus, Registration

CLUSTER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
# A DNS name or IPv4 address, or an IPv6 address in brackets; then a port.
ENDPOINT = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$"
)
IDENTITY = re.compile(r"^spiffe://[A-Za-z0-9._-]+(?:/[A-Za-z0-9._~:@!$&'()*+,;=%-]+)+$")
NAME_LIMIT = 253


def decide_register(
    cmd: RegisterCluster, cluster: Cluster | None, now: int
) -> list[ev.DomainEvent]:
    """ClusterRegistered for a new cluster or a changed one; nothing for a repeat."""
    if found := problems(cmd.cluster_id, cmd.name, cmd.endpoint, cmd.certificate_identity):
        raise CommandRefused("INVALID_REGISTRATION", "; ".join(found))
    name = cmd.name or cmd.cluster_id
    if cluster is not None and cluster.registration is Registration.DEREGISTERED:
        raise CommandRefused(
            "CLUSTER_DEREGISTERED",
            f"cluster {cmd.cluster_id!r} was deregistered: its id is not used again",
        )
    failover_enabled = cmd.failover_enabled
    if cluster is not None and cluster.registered:
        wanted = (name, cmd.endpoint, cmd.certificate_identity)
        if (cluster.name, cluster.endpoint, cluster.certificate_identity) == wanted:
            return []  # a repeat (a retried request): already so
        failover_enabled = cluster.failover_enabled  # not registering's to change
    return [
        ev.ClusterRegistered(
            cluster_id=cmd.cluster_id,
            name=name,
            registered_at=now,
            failover_enabled=failover_enabled,
            endpoint=cmd.endpoint,
            certificate_identity=cmd.certificate_identity,
        )
    ]


def decide_deregister(
    cmd: DeregisterCluster, cluster: Cluster | None, in_use: str | None, now: int
) -> list[ev.DomainEvent]:
    """ClusterDeregistered for a cluster nothing runs on or waits for; nothing for a
    repeat. ``in_use``: why the cluster is still in use (:func:`still_in_use`), if it is.

    A deregistered cluster is no longer linked (DP-Link) nor dispatched to (the
    Dispatcher), so anything left there would stay there for good: its Deployments, a
    flight still running, a source clean-up still to come. Those refuse it. A copy a
    failed mission may have left on it still counts against its database side
    (``stale_copies_on_side``): deregistering stops nothing running there."""
    if cluster is None or cluster.registration is Registration.UNREGISTERED:
        raise CommandRefused(
            "CLUSTER_NOT_REGISTERED", f"cluster {cmd.cluster_id!r} is not registered"
        )
    if cluster.registration is Registration.DEREGISTERED:
        return []  # a repeat: already so
    if in_use is not None:
        raise CommandRefused(
            "CLUSTER_IN_USE", f"cluster {cluster.id!r} cannot be deregistered: {in_use}"
        )
    return [ev.ClusterDeregistered(cluster_id=cluster.id, deregistered_at=now)]


def still_in_use(
    cluster: Cluster,
    deployments: Mapping[str, Deployment],
    requests: Mapping[str, FailoverRequest],
    missions: Mapping[str, Mission],
    flights: Mapping[str, Flight],
) -> str | None:
    """Why ``cluster`` is still in use (None: it is not), the first reason found."""
    held = sorted(
        {d.deployment_id for d in deployments.values() if d.active and d.cluster_id == cluster.id}
        | set(cluster.deployment_ids)
    )
    if held:
        return f"it holds {len(held)} Deployment(s), e.g. {held[0]!r}: fail them over first"
    for r in sorted(requests.values(), key=lambda r: r.id):
        if r.active and cluster.id in (r.source_cluster_id, r.destination_cluster_id):
            return f"failover {r.id!r} names it and is {r.status.value}"
    for m in sorted(missions.values(), key=lambda m: m.id):
        if m.cleanup is CleanupStatus.PENDING and m.source_cluster_id == cluster.id:
            return f"mission {m.id!r} has still to clean its Deployment up there"
    for f in sorted(flights.values(), key=lambda f: f.id):
        if f.cluster_id == cluster.id and not f.terminal:
            return f"flight {f.id!r} still runs there"
    return None


def problems(cluster_id: str, name: str, endpoint: str, certificate_identity: str) -> list[str]:
    """What no agent could answer to, each naming its field (the Console checks the
    same before it sends the command)."""
    found = []
    if not CLUSTER_ID.match(cluster_id):
        found.append(
            f"cluster_id {cluster_id!r}: 1-128 of letters, digits, '.', '_', ':', '-',"
            " starting with a letter or digit"
        )
    port = ENDPOINT.match(endpoint)
    if port is None or not 1 <= int(port.group(1)) <= 65535:
        found.append(f"endpoint {endpoint!r}: host:port of the agent, port 1-65535")
    if certificate_identity and not IDENTITY.match(certificate_identity):
        found.append(
            f"certificate_identity {certificate_identity!r}: a spiffe:// URI, or empty"
            " for spiffe://jetbridge/cluster/<cluster_id>"
        )
    if len(name) > NAME_LIMIT or any(not c.isprintable() for c in name):
        found.append(f"name: at most {NAME_LIMIT} printable characters")
    return found
