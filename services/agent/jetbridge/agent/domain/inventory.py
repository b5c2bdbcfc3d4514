"""The cluster's inventory (the Airflow Deployments it holds), read from its namespaces.

The control plane's rule "failover cannot be enabled on a cluster that already has
Deployments" is judged on this inventory, so it must be what the cluster holds, not
what an install file says. Every namespace the Pilot makes carries
``jetbridge.io/deployment`` (namespace_marks.py); the exact id and the deploy
mechanism are annotations. A labelled namespace without them (made by an older Pilot,
or by hand) still counts, under its label, with an unknown mechanism: it is a
Deployment on the cluster all the same. So is a namespace with no label that runs an
Airflow scheduler (``SCHEDULER_SELECTOR``): installed without the Pilot, it still makes
the cluster one that "already has Airflow Deployments" (the spec's rule).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from jetbridge.agent.domain.facts import DeploymentFact
from jetbridge.common.namespace_marks import (
    DEPLOY_MECHANISM_ANNOTATION,
    DEPLOYMENT_ID_ANNOTATION,
    DEPLOYMENT_LABEL,
)

# The LIST's label selector: namespaces that carry the label, whatever its value.
SELECTOR = DEPLOYMENT_LABEL
# Airflow's official chart (and Astronomer's) labels its scheduler's Deployment so: an
# Airflow Deployment installed without the Pilot (before it, or by hand) is found by it.
SCHEDULER_SELECTOR = "tier=airflow,component=scheduler"


def deployments_in(namespaces: Iterable[Mapping[str, Any]]) -> tuple[DeploymentFact, ...]:
    """One fact per labelled namespace, sorted by id (equal inventories, equal facts:
    DP-Link publishes only when the facts change)."""
    facts: dict[str, DeploymentFact] = {}
    for ns in namespaces:
        meta = ns.get("metadata") or {}
        labels = meta.get("labels") or {}
        if DEPLOYMENT_LABEL not in labels:
            continue
        notes = meta.get("annotations") or {}
        deployment_id = str(notes.get(DEPLOYMENT_ID_ANNOTATION) or labels[DEPLOYMENT_LABEL])
        facts[deployment_id] = DeploymentFact(
            deployment_id=deployment_id,
            deploy_mechanism=str(notes.get(DEPLOY_MECHANISM_ANNOTATION) or ""),
            created_at_ms=_epoch_ms(meta.get("creationTimestamp")),
        )
    return tuple(facts[k] for k in sorted(facts))


def _epoch_ms(stamp: object) -> int:
    """An API server's RFC 3339 time (``2026-12-06T09:00:00Z``) in ms; 0 if absent."""
    if isinstance(stamp, datetime):  # a typed client object
        return int(stamp.timestamp() * 1000)
    if not isinstance(stamp, str) or not stamp:
        return 0
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


def inventory(
    namespaces: Iterable[Mapping[str, Any]], schedulers: Iterable[Mapping[str, Any]] = ()
) -> tuple[DeploymentFact, ...]:
    """:func:`deployments_in`, plus one fact per other namespace that runs an Airflow
    scheduler (apps/v1 Deployments matching ``SCHEDULER_SELECTOR``), named
    ``<namespace>/<release>`` with an unknown mechanism. Fails closed for the taint
    rule: what looks like Airflow counts."""
    facts = {f.deployment_id: f for f in deployments_in(namespaces)}
    labelled = {
        (ns.get("metadata") or {}).get("name")
        for ns in namespaces
        if DEPLOYMENT_LABEL in ((ns.get("metadata") or {}).get("labels") or {})
    }
    for deployment in schedulers:
        meta = deployment.get("metadata") or {}
        namespace = str(meta.get("namespace") or "")
        if not namespace or namespace in labelled:
            continue
        release = str((meta.get("labels") or {}).get("release") or meta.get("name") or "")
        fact_id = f"{namespace}/{release}"
        created = _epoch_ms(meta.get("creationTimestamp"))
        facts.setdefault(fact_id, DeploymentFact(fact_id, "", created))
    return tuple(facts[k] for k in sorted(facts))
