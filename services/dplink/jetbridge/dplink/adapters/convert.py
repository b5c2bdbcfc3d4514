"""Heartbeat protos -> what the monitor needs (canonical bytes, payload, failing checks)."""

from __future__ import annotations

import time
from typing import Any

from jetbridge.common.dataplane_api import pb2

_PLANE = {
    pb2.PLANE_MODE_CONTROL: "CONTROL",
    pb2.PLANE_MODE_DATA: "DATA",
    pb2.PLANE_MODE_UNIFIED: "UNIFIED",
}
_MECHANISM = {
    pb2.DEPLOY_MECHANISM_IMAGE: "IMAGE",
    pb2.DEPLOY_MECHANISM_GIT_SYNC: "GIT_SYNC",
    pb2.DEPLOY_MECHANISM_DAG_ONLY: "DAG_ONLY",
}
_DB = {
    pb2.DATABASE_ENDPOINT_STATUS_PRIMARY: "PRIMARY",
    pb2.DATABASE_ENDPOINT_STATUS_READ_ONLY_REPLICA: "READ_ONLY_REPLICA",
    pb2.DATABASE_ENDPOINT_STATUS_UNREACHABLE: "UNREACHABLE",
}


def canonical_facts(heartbeat: Any) -> bytes:
    """Deterministic bytes of the facts: equal facts, equal bytes, equal digest."""
    return bytes(heartbeat.facts.SerializeToString(deterministic=True))


def failing_checks(heartbeat: Any) -> list[str]:
    return [check.name for check in heartbeat.checks if not check.ok]


def facts_payload(heartbeat: Any) -> dict[str, Any]:
    """The ClusterFactsChanged payload (without cluster_id and digest, added by the monitor)."""
    facts = heartbeat.facts
    store = facts.cluster_secret_store
    return {
        "observed_at": heartbeat.sent_at or time.time_ns() // 1_000_000,
        "jetbridge_version": facts.jetbridge_version,
        "plane_mode": _PLANE.get(facts.plane_mode, "UNKNOWN"),
        "external_secrets_enabled": facts.external_secrets_enabled,
        "external_secret_manager_name": facts.external_secret_manager_name or None,
        "cluster_secret_store_valid": bool(store.ready),
        "cluster_secret_store_authenticated": bool(store.authenticated),
        "log_sink_configured": facts.log_sink_configured,
        "database_endpoint_status": _DB.get(facts.database_endpoint_status, "UNKNOWN"),
        "deployment_ids": [d.id for d in facts.deployments],
        "cluster_secret_store_name": store.name,
        "cluster_secret_store_message": store.message,
        "cluster_secret_store_provider": store.provider,
        "failover_enabled": facts.failover_enabled,
        "failover_enabled_at": facts.failover_enabled_at or None,
        "database_side": facts.database_side or None,
        "database_endpoint": facts.database_endpoint,
        "deployments": [
            {
                "deployment_id": d.id,
                "deploy_mechanism": _MECHANISM.get(d.deploy_mechanism, "UNKNOWN"),
                "created_at": d.created_at,
                "image": d.image,
            }
            for d in facts.deployments
        ],
    }
