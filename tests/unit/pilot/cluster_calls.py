"""What the Pilot's steps ask of a cluster, as the RBAC rules a real API server checks.

The steps run on the in-memory twin (the same ``ClusterPort`` calls the Kubernetes
adapter makes) through a whole provisioning, a Controlled failover, an image that cannot
be pulled and a deletion; every call is recorded as the (API group, resource) and verbs
it needs. ``tests/integration/helm/test_chart.py`` checks the chart's ClusterRole
against it: a hand-kept list of what the adapter calls missed the readiness waits'
``list`` of Deployments for a day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pytest

from jetbridge.flightdeck.models import Side
from jetbridge.pilot.adapters.kube_watch import PATHS as WATCHED_KINDS
from jetbridge.pilot.adapters.memory_cluster import InMemoryCluster, MemorySecretStore
from jetbridge.pilot.domain.airflow import Manifest
from jetbridge.pilot.domain.steps import StepFailure
from jetbridge.pilot.service_layer.ports import Changes

from .test_steps import REGISTRY, FakeTasks, run

Rules = dict[tuple[str, str], set[str]]
RESOURCES = {  # kind -> (API group, resource); a kind missing here fails the check
    "Namespace": ("", "namespaces"),
    "ResourceQuota": ("", "resourcequotas"),
    "LimitRange": ("", "limitranges"),
    "Secret": ("", "secrets"),
    "Pod": ("", "pods"),
    "Deployment": ("apps", "deployments"),
    "PushSecret": ("external-secrets.io", "pushsecrets"),
    "ExternalSecret": ("external-secrets.io", "externalsecrets"),
    "RoleBinding": ("rbac.authorization.k8s.io", "rolebindings"),
}
SECRETS_ROLE = "jetbridge-pilot-secrets-role"  # what the steps are told to bind


class RecordingCluster(InMemoryCluster):
    """The twin, noting what each call would need of the Kubernetes adapter's RBAC."""

    def __init__(self, *args: object, needs: Rules, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.needs = needs

    def _need(self, kind: str, *verbs: str) -> None:
        self.needs.setdefault(RESOURCES[kind], set()).update(verbs)

    def changes(self, watched: Iterable[tuple[str, str]]) -> Changes:
        for kind, _ in watched:  # KindWatch: a one-item list, then a watch
            if kind in WATCHED_KINDS:
                self._need(kind, "list", "watch")
        return super().changes(watched)

    async def apply(self, manifest: Manifest, *, if_version: str | None = None) -> None:
        self._need(manifest["kind"], "create", "patch")  # server-side apply
        await super().apply(manifest, if_version=if_version)

    async def create(self, manifest: Manifest, *, for_apply: bool = False) -> bool:
        self._need(manifest["kind"], "create")  # a POST
        if for_apply:  # and a JSON patch handing its fields to the apply
            self._need(manifest["kind"], "patch")
        return await super().create(manifest, for_apply=for_apply)

    async def get(self, kind: str, namespace: str | None, name: str) -> Manifest | None:
        self._need(kind, "get")
        return await super().get(kind, namespace, name)

    async def list(self, kind: str, namespace: str, labels: Mapping[str, str]) -> list[Manifest]:
        self._need(kind, "list")
        return await super().list(kind, namespace, labels)

    async def delete(
        self, kind: str, namespace: str | None, name: str, *, if_version: str | None = None
    ) -> bool:
        self._need(kind, "delete")
        return await super().delete(kind, namespace, name, if_version=if_version)

    async def may(self, verb: str, kind: str, namespace: str) -> bool:
        # a SelfSubjectAccessReview: any authenticated user may ask (system:basic-user)
        return await super().may(verb, kind, namespace)

    async def scale(self, namespace: str, name: str, replicas: int) -> bool:
        self._need("Deployment", "patch")  # a merge-patch of spec.replicas
        return await super().scale(namespace, name, replicas)


async def rules_the_steps_need() -> Rules:
    needs: Rules = {}
    store = MemorySecretStore()
    bad_image = f"{REGISTRY}/org/airflow:unpullable"
    home = RecordingCluster("east", store, needs=needs)
    other = RecordingCluster("west", store, needs=needs, unpullable=frozenset({bad_image}))
    for step in ("CREATE_NAMESPACE", "APPLY_EXTERNAL_SECRETS", "UPSERT_DEPLOYMENT"):
        await run(home, step, side=Side.SOURCE, secrets_role=SECRETS_ROLE)
    for step in ("CREATE_NAMESPACE", "APPLY_EXTERNAL_SECRETS", "UPSERT_DEPLOYMENT", "WAIT_READY"):
        await run(other, step, secrets_role=SECRETS_ROLE)
    # re-run after a crash: the namespace exists, written with a conditional apply (a
    # missing one is created: a POST, which the first run asked)
    await run(other, "CREATE_NAMESPACE", secrets_role=SECRETS_ROLE)
    with pytest.raises(StepFailure):  # the pods are listed for the pull error
        await run(other, "UPSERT_DEPLOYMENT", image=bad_image, seconds=0.3)
    await run(home, "STOP_SCHEDULING", side=Side.SOURCE)
    busy = FakeTasks({"running": 1})
    await run(home, "DRAIN_TASKS", side=Side.SOURCE, tasks=busy, drain_timeout_seconds=0)
    await run(home, "DELETE_DEPLOYMENT", side=Side.SOURCE)
    return needs
