"""ONE contract for every ClusterPort adapter: the in-memory twin (unit) and the
Kubernetes adapter against the local clusters (integration) run these same tests.

Subclasses provide ``pair`` (two clusters sharing one secrets store, like two data
planes behind one ClusterSecretStore) and ``store`` (the ClusterSecretStore's name).
Waits poll: real controllers (kwok, the ESO stand-in) take a few ticks.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from dataclasses import replace

import pytest

from jetbridge.pilot.domain import secrets as sec
from jetbridge.pilot.domain.airflow import (
    Component,
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

    async def test_a_conditional_apply_refuses_an_object_written_since_it_was_read(
        self, pair: tuple[ClusterPort, ClusterPort]
    ) -> None:
        """What keeps a late writer (an older mission's flight) from overwriting what a
        newer one wrote after the late one read the object (``steps_cluster``)."""
        cluster, _ = pair
        spec = new_spec()
        await self._namespace(cluster, spec)
        try:
            component = spec.components[0]
            await cluster.apply(component_manifest(spec, component, "reg.test/airflow:1", "A"))
            name = spec.deployment_name(component.name)
            read = await cluster.get("Deployment", spec.namespace, name)
            assert read is not None
            version = read["metadata"]["resourceVersion"]
            newer = component_manifest(spec, component, "reg.test/airflow:2", "A")
            await cluster.apply(newer)  # another writer, after the read
            older = component_manifest(spec, component, "reg.test/airflow:1", "A")
            with pytest.raises(ObjectChanged):
                await cluster.apply(older, if_version=version)
            live = await cluster.get("Deployment", spec.namespace, name)
            assert live is not None
            image = live["spec"]["template"]["spec"]["containers"][0]["image"]
            assert image == "reg.test/airflow:2"  # the refused apply changed nothing
            # Naming the version now read, the same apply goes through: read and try
            # again, since a controller's status write also moves the version (on a
            # real cluster, the Deployment controller's right after a spec change).
            for _ in range(20):
                current = await cluster.get("Deployment", spec.namespace, name)
                assert current is not None
                try:
                    await cluster.apply(older, if_version=current["metadata"]["resourceVersion"])
                    break
                except ObjectChanged:
                    await asyncio.sleep(0.1)
            else:
                pytest.fail("every conditional apply conflicted, 20 reads in a row")
            again = await cluster.get("Deployment", spec.namespace, name)
            assert again is not None
            assert (
                again["spec"]["template"]["spec"]["containers"][0]["image"] == "reg.test/airflow:1"
            )
            # An object deleted since it was read is made again: server-side apply does
            # not hold a creation to the version (found on kube-apiserver v1.36). The
            # steps guard creations with create(), which refuses an existing object.
            assert await cluster.delete("Deployment", spec.namespace, name)

            async def deployment_gone() -> bool:
                return await cluster.get("Deployment", spec.namespace, name) is None

            await eventually(deployment_gone, "the Deployment to disappear", WAIT_S)
            await cluster.apply(older, if_version=again["metadata"]["resourceVersion"])
            assert await cluster.get("Deployment", spec.namespace, name) is not None
        finally:
            await cluster.delete("Namespace", None, spec.namespace)

    async def test_an_object_made_by_create_is_owned_as_if_applied(
        self, pair: tuple[ClusterPort, ClusterPort]
    ) -> None:
        """A later apply that leaves a field out removes it: on an API server a create's
        fields belong to an ``Update`` entry an apply does not clear (a component's
        limits outlived its configuration before ``field_ownership``)."""
        cluster, _ = pair
        spec = new_spec()
        await self._namespace(cluster, spec)
        try:
            limited = self._limited(spec)
            made_by_create = component_manifest(spec, limited, "reg.test/a:1", "A")
            assert await cluster.create(made_by_create, for_apply=True)
            made = await cluster.get(
                "Deployment", spec.namespace, spec.deployment_name(limited.name)
            )
            assert made is not None
            assert made["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
            await self._limits_gone_once_dropped(cluster, spec, limited)
        finally:
            await cluster.delete("Namespace", None, spec.namespace)

    @staticmethod
    def _limited(spec: DeploymentSpec) -> Component:
        """The spec's first component, configured: its manifest sets limits."""
        return replace(spec.components[0], cpu="200m", memory="300Mi", configured=True)

    @staticmethod
    async def _limits_gone_once_dropped(
        cluster: ClusterPort, spec: DeploymentSpec, limited: Component
    ) -> None:
        """Apply ``limited`` without its configuration: its limits must go."""
        plain = replace(limited, configured=False)
        await cluster.apply(component_manifest(spec, plain, "reg.test/a:1", "A"))
        live = await cluster.get("Deployment", spec.namespace, spec.deployment_name(limited.name))
        assert live is not None
        resources = live["spec"]["template"]["spec"]["containers"][0]["resources"]
        assert "limits" not in resources, resources

    async def test_a_create_never_handed_over_is_merged_by_the_next_guarded_apply(
        self, pair: tuple[ClusterPort, ClusterPort]
    ) -> None:
        """A create whose hand-over failed (its step re-runs, perhaps with a newer
        manifest): the guarded apply over it leaves one owner, and a field its manifest
        drops is gone at once, as if the hand-over had happened."""
        cluster, _ = pair
        spec = new_spec()
        await self._namespace(cluster, spec)
        try:
            limited = self._limited(spec)
            created = component_manifest(spec, limited, "reg.test/a:1", "A")
            assert await cluster.create(created)  # as if the hand-over had failed
            name = spec.deployment_name(limited.name)
            plain = component_manifest(
                spec, replace(limited, configured=False), "reg.test/a:1", "A"
            )
            for _ in range(5):  # as the step does: a controller's status write moves it
                made = await cluster.get("Deployment", spec.namespace, name)
                assert made is not None
                try:
                    await cluster.apply(plain, if_version=made["metadata"]["resourceVersion"])
                    break
                except ObjectChanged:
                    continue
            else:
                pytest.fail(f"{name} changed between every read and apply")
            live = await cluster.get("Deployment", spec.namespace, name)
            assert live is not None
            resources = live["spec"]["template"]["spec"]["containers"][0]["resources"]
            assert "limits" not in resources, resources
            await self._limits_gone_once_dropped(cluster, spec, limited)  # and stay so
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
