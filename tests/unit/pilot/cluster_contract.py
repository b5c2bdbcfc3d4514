"""ONE contract for every ClusterPort adapter: the in-memory twin (unit) and the
Kubernetes adapter against the local clusters (integration) run these same tests.

Subclasses provide ``pair`` (two clusters sharing one secrets store, like two data
planes behind one ClusterSecretStore) and ``store`` (the ClusterSecretStore's name).
Waits poll: real controllers (kwok, the ESO stand-in) take a few ticks.
"""

from __future__ import annotations

import base64
import uuid

import pytest

from jetbridge.pilot.domain import secrets as sec
from jetbridge.pilot.domain.airflow import (
    DeploymentSpec,
    component_manifest,
    namespace_manifests,
)
from jetbridge.pilot.domain.steps import StepFailure
from jetbridge.pilot.service_layer.ports import ClusterPort, ObjectChanged
from jetbridge.pilot.service_layer.steps_cluster import deployment_ready
from tests.polling import eventually

WAIT_S = 60.0


def new_spec() -> DeploymentSpec:
    return DeploymentSpec(f"contract-{uuid.uuid4().hex[:8]}", "registry.test/airflow:1")


class ClusterContract:
    store = "jetbridge-secrets"

    @pytest.fixture
    def pair(self) -> tuple[ClusterPort, ClusterPort]:
        raise NotImplementedError

    async def _namespace(self, cluster: ClusterPort, spec: DeploymentSpec) -> None:
        for manifest in namespace_manifests(spec):
            await cluster.apply(manifest)

    async def test_apply_is_idempotent_and_delete_says_whether_it_existed(
        self, pair: tuple[ClusterPort, ClusterPort]
    ) -> None:
        cluster, _ = pair
        spec = new_spec()
        await self._namespace(cluster, spec)
        first = await cluster.get("Namespace", None, spec.namespace)
        await self._namespace(cluster, spec)  # again: no error, same objects
        ns = await cluster.get("Namespace", None, spec.namespace)
        assert ns is not None and ns["metadata"]["labels"]["release"] == spec.release
        assert first is not None  # and an apply that changed nothing kept the version
        assert ns["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
        quota = await cluster.get("ResourceQuota", spec.namespace, f"{spec.release}-quota")
        assert quota is not None and quota["spec"]["hard"]["pods"] == "50"
        assert await cluster.get("LimitRange", spec.namespace, f"{spec.release}-limits")
        assert await cluster.delete("Namespace", None, spec.namespace) is True

        async def gone() -> bool:
            return await cluster.get("Namespace", None, spec.namespace) is None

        await eventually(gone, "the namespace to disappear", 90)
        assert await cluster.delete("Namespace", None, spec.namespace) is False

    async def test_a_conditional_delete_refuses_an_object_written_since_it_was_read(
        self, pair: tuple[ClusterPort, ClusterPort]
    ) -> None:
        cluster, _ = pair
        spec = new_spec()
        await self._namespace(cluster, spec)
        try:
            read = await cluster.get("Namespace", None, spec.namespace)
            assert read is not None
            version = read["metadata"]["resourceVersion"]
            await cluster.apply(namespace_manifests(spec, epoch=7)[0])  # a takeover
            with pytest.raises(ObjectChanged):
                await cluster.delete("Namespace", None, spec.namespace, if_version=version)
            after = await cluster.get("Namespace", None, spec.namespace)
            assert after is not None and after["metadata"]["resourceVersion"] != version
            assert await cluster.delete(
                "Namespace", None, spec.namespace, if_version=after["metadata"]["resourceVersion"]
            )
        finally:
            await cluster.delete("Namespace", None, spec.namespace)

    async def test_create_makes_an_object_once_and_leaves_an_existing_one_as_it_is(
        self, pair: tuple[ClusterPort, ClusterPort]
    ) -> None:
        cluster, _ = pair
        spec = new_spec()
        await self._namespace(cluster, spec)
        try:
            assert await cluster.create(sec.secret_manifest(spec, "env", {"KEY": "first"}))
            assert not await cluster.create(sec.secret_manifest(spec, "env", {"KEY": "second"}))
            live = await cluster.get("Secret", spec.namespace, spec.secret_name("env"))
            assert live is not None
            assert base64.b64decode(live["data"]["KEY"]).decode() == "first"
        finally:
            await cluster.delete("Namespace", None, spec.namespace)

    async def test_an_object_in_a_missing_namespace_is_refused(
        self, pair: tuple[ClusterPort, ClusterPort]
    ) -> None:
        cluster, _ = pair
        spec = new_spec()
        with pytest.raises(StepFailure) as info:
            await cluster.apply(sec.secret_manifest(spec, "env", {"A": "1"}))
        assert not info.value.transient

    async def test_deployments_become_ready_and_scale_to_zero(
        self, pair: tuple[ClusterPort, ClusterPort]
    ) -> None:
        cluster, _ = pair
        spec = new_spec()
        await self._namespace(cluster, spec)
        try:
            for component in spec.components[:2]:
                await cluster.apply(component_manifest(spec, component, spec.image, "A"))
            name = spec.deployment_name(spec.components[0].name)

            async def ready() -> bool:
                live = await cluster.get("Deployment", spec.namespace, name)
                return live is not None and deployment_ready(live)

            await eventually(ready, "the scheduler Deployment to be ready")
            listed = await cluster.list("Deployment", spec.namespace, {"release": spec.release})
            assert len(listed) == 2
            assert len(await cluster.list("Pod", spec.namespace, {"release": spec.release})) >= 1
            assert await cluster.scale(spec.namespace, name, 0) is True

            async def stopped() -> bool:
                live = await cluster.get("Deployment", spec.namespace, name)
                return (
                    live is not None and int((live.get("status") or {}).get("replicas") or 0) == 0
                )

            await eventually(stopped, "the scheduler to have no pods")
            assert await cluster.scale(spec.namespace, "no-such-deployment", 0) is False
        finally:
            await cluster.delete("Namespace", None, spec.namespace)

    async def test_a_pushed_secret_is_pulled_on_the_other_cluster(
        self, pair: tuple[ClusterPort, ClusterPort]
    ) -> None:
        home, other = pair
        spec = new_spec()
        for cluster in pair:
            await self._namespace(cluster, spec)
        try:
            await home.apply(sec.secret_manifest(spec, "env", {"GREETING": "hello"}))
            await home.apply(sec.push_secret_manifest(spec, "env", self.store))

            async def ready(cluster: ClusterPort, kind: str) -> bool:
                live = await cluster.get(kind, spec.namespace, spec.secret_name("env"))
                return sec.ready_condition(live or {})[0]

            await eventually(lambda: ready(home, "PushSecret"), "the PushSecret to be Ready")
            await other.apply(sec.external_secret_manifest(spec, "env", self.store))
            await eventually(
                lambda: ready(other, "ExternalSecret"), "the ExternalSecret to be Ready"
            )
            pulled = await other.get("Secret", spec.namespace, spec.secret_name("env"))
            assert pulled is not None
            assert base64.b64decode(pulled["data"]["GREETING"]).decode() == "hello"

            missing = sec.external_secret_manifest(spec, "fernet-key", self.store)
            await other.apply(missing)

            async def refused() -> str:
                live = await other.get(
                    "ExternalSecret", spec.namespace, spec.secret_name("fernet-key")
                )
                ok, why = sec.ready_condition(live or {})
                return "" if ok or "no Ready" in why else why

            why = await eventually(refused, "the ExternalSecret of a missing key to fail")
            assert "fernet-key" in why or "not found" in why.lower()
        finally:
            for cluster in pair:
                await cluster.delete("Namespace", None, spec.namespace)
