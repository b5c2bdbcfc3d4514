"""Secret replication as External Secrets objects: pure manifest builders.

The home cluster pushes each Airflow secret WHOLE (no ``secretKey``: the store keeps
the secret's JSON) through the ClusterSecretStore with a PushSecret; another cluster
pulls it back with an ExternalSecret ``dataFrom.extract``, so the destination never
needs to know the secret's keys. Only names travel: values stay in Secrets and the store.
Database credentials exist once per side (``metadata-a``/``metadata-b``); each cluster
mounts its own side's set, so fencing decides which cluster can reach the database.

When the customer manages the database users, the customer chose the two passwords: it
writes each to the store as ``jetbridge/<release>/metadata-<side>-login`` (a JSON
object with a ``password`` key), and the home cluster pulls those with ExternalSecrets
(``login_kind``) instead of generating passwords. Everything after that is the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jetbridge.common.conditions import condition
from jetbridge.pilot.domain.airflow import DeploymentSpec, Manifest

GROUP = "external-secrets.io"
FERNET, ENV = "fernet-key", "env"
SIDES = ("a", "b")
# ESO's own default. The values are written once (at provisioning) and never change, so
# a refresh only re-reads them. At "1m", 1,000 Deployments ask for 4,000 PushSecret
# refreshes a minute on the source (each a store call) and 3,000 ExternalSecret ones on
# the destination; the local ESO stand-in managed ~25 a second and fell behind at ~2,000
# PushSecrets, new ones waiting behind refreshes (2026-12-04, docs/benchmarks.md).
REFRESH_INTERVAL = "1h"


def metadata_kind(side: str) -> str:
    return f"metadata-{side.lower()}"


def pushed_kinds() -> tuple[str, ...]:
    """What the home cluster pushes: both sides' credentials, so either side can run."""
    return (FERNET, ENV, *(metadata_kind(s) for s in SIDES))


def pulled_kinds(side: str) -> tuple[str, ...]:
    return (FERNET, ENV, metadata_kind(side))


def login_kind(side: str) -> str:
    """The customer's password for one side's login role (customer-managed users)."""
    return f"{metadata_kind(side)}-login"


def remote_key(spec: DeploymentSpec, kind: str) -> str:
    return f"jetbridge/{spec.release}/{kind}"


def secret_manifest(spec: DeploymentSpec, kind: str, values: Mapping[str, str]) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": spec.secret_name(kind),
            "namespace": spec.namespace,
            "labels": spec.labels(),
        },
        "stringData": dict(values),
    }


def push_secret_manifest(spec: DeploymentSpec, kind: str, store: str) -> Manifest:
    return {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "PushSecret",
        "metadata": {
            "name": spec.secret_name(kind),
            "namespace": spec.namespace,
            "labels": spec.labels(),
        },
        "spec": {
            # Deleting the source's objects must never delete what the destination reads.
            "deletionPolicy": "None",
            "refreshInterval": REFRESH_INTERVAL,
            "secretStoreRefs": [{"name": store, "kind": "ClusterSecretStore"}],
            "selector": {"secret": {"name": spec.secret_name(kind)}},
            "data": [{"match": {"remoteRef": {"remoteKey": remote_key(spec, kind)}}}],
        },
    }


def external_secret_manifest(spec: DeploymentSpec, kind: str, store: str) -> Manifest:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "ExternalSecret",
        "metadata": {
            "name": spec.secret_name(kind),
            "namespace": spec.namespace,
            "labels": spec.labels(),
        },
        "spec": {
            "refreshInterval": REFRESH_INTERVAL,
            "secretStoreRef": {"name": store, "kind": "ClusterSecretStore"},
            "target": {"name": spec.secret_name(kind), "creationPolicy": "Owner"},
            "dataFrom": [{"extract": {"key": remote_key(spec, kind)}}],
        },
    }


def ready_condition(obj: Mapping[str, Any]) -> tuple[bool, str]:
    """(Ready?, message) from ``status.conditions[type=Ready]``; no status: not yet."""
    cond = condition(obj, "Ready")
    if cond is None:
        return False, "no Ready condition yet"
    return cond.get("status") == "True", str(cond.get("message") or "")
