"""An in-memory FactsSource: fixed facts, changeable at run time (local stack, tests).

Loads from a JSON file when given one (``JETBRIDGE_AGENT_FACTS_FILE``), so the local
stack can describe each fake data plane without Kubernetes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from jetbridge.agent.domain.facts import (
    CheckResult,
    ClusterFacts,
    DeploymentFact,
    SecretStoreStatus,
)


class StaticFactsSource:
    def __init__(
        self, facts: ClusterFacts | None = None, checks: Sequence[CheckResult] = ()
    ) -> None:
        self._facts = facts or ClusterFacts()
        self._checks = tuple(checks)

    async def facts(self) -> ClusterFacts:
        return self._facts

    async def checks(self) -> Sequence[CheckResult]:
        return self._checks

    def set_facts(self, facts: ClusterFacts) -> None:
        self._facts = facts

    def update(self, **changes: Any) -> None:
        self._facts = replace(self._facts, **changes)

    def set_checks(self, checks: Sequence[CheckResult]) -> None:
        self._checks = tuple(checks)

    @classmethod
    def from_file(cls, path: Path) -> StaticFactsSource:
        return cls(facts_from_mapping(json.loads(path.read_text())))


def facts_from_mapping(raw: dict[str, Any]) -> ClusterFacts:
    store = raw.get("cluster_secret_store") or {}
    return ClusterFacts(
        jetbridge_version=str(raw.get("jetbridge_version", "")),
        # global.plane.mode as written in Helm values ("data") or as the API names it
        plane_mode=str(raw.get("plane_mode") or "").strip().upper(),
        external_secrets_enabled=bool(raw.get("external_secrets_enabled", False)),
        external_secret_manager_name=str(raw.get("external_secret_manager_name", "")),
        cluster_secret_store=SecretStoreStatus(
            name=str(store.get("name", "")),
            ready=bool(store.get("ready", False)),
            authenticated=bool(store.get("authenticated", False)),
            message=str(store.get("message", "")),
            provider=str(store.get("provider", "")),
        ),
        failover_enabled=bool(raw.get("failover_enabled", False)),
        failover_enabled_at_ms=int(raw.get("failover_enabled_at_ms", 0)),
        deployments=tuple(
            DeploymentFact(
                deployment_id=str(d["id"]),
                deploy_mechanism=str(d.get("deploy_mechanism", "IMAGE")),
                created_at_ms=int(d.get("created_at_ms", 0)),
                image=str(d.get("image", "")),
            )
            for d in raw.get("deployments", [])
        ),
        log_sink_configured=bool(raw.get("log_sink_configured", False)),
        database_endpoint_status=str(raw.get("database_endpoint_status", "UNKNOWN")),
        database_side=str(raw.get("database_side", "")).upper(),
        database_endpoint=str(raw.get("database_endpoint", "")).lower(),
    )
