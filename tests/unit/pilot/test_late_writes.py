"""A late flight of an older mission never overwrites what a newer one wrote.

The case: a Controlled failover's destination flight, cancelled when a Forced failover
took the request over (its source died), still runs its upsert on the destination; the
Forced mission, with a higher epoch, has brought the Deployment up there meanwhile,
perhaps with a newer image or configuration. The epoch annotation on the namespace and
on each component, written conditionally on the version read, keeps the newer copy.
"""

from __future__ import annotations

import pytest

from jetbridge.pilot.adapters.memory_cluster import InMemoryCluster, MemorySecretStore
from jetbridge.pilot.domain.airflow import DeploymentSpec, Manifest, component_manifest
from jetbridge.pilot.domain.steps import ErrorCode, StepFailure
from tests.unit.pilot.test_steps import REGISTRY, run

OLD, NEW = f"{REGISTRY}/org/airflow:1", f"{REGISTRY}/org/airflow:2"


def images(cluster: InMemoryCluster) -> set[str]:
    return {
        obj["spec"]["template"]["spec"]["containers"][0]["image"]
        for key, obj in cluster.objects().items()
        if key.startswith("Deployment/")
    }


def epoch_of(cluster: InMemoryCluster, key: str) -> str:
    annotations: dict[str, str] = cluster.objects()[key]["metadata"]["annotations"]
    return next(v for k, v in annotations.items() if k.endswith("epoch"))


async def test_a_late_upsert_of_an_older_mission_leaves_the_newer_copy_as_it_is() -> None:
    west = InMemoryCluster("west", MemorySecretStore())
    await run(west, "CREATE_NAMESPACE", epoch=3)
    await run(west, "UPSERT_DEPLOYMENT", epoch=3, image=NEW)

    with pytest.raises(StepFailure) as late:
        await run(west, "UPSERT_DEPLOYMENT", epoch=2, image=OLD)
    assert late.value.code is ErrorCode.TAKEN_OVER and not late.value.transient
    assert "by a newer mission (epoch 3; this flight's is 2)" in late.value.message
    assert images(west) == {NEW}

    # The newer mission's own re-run (a crash, a retry: the same epoch) goes through.
    await run(west, "UPSERT_DEPLOYMENT", epoch=3, image=NEW)
    assert images(west) == {NEW}


async def test_a_late_create_namespace_never_lowers_the_namespaces_epoch() -> None:
    west = InMemoryCluster("west", MemorySecretStore())
    await run(west, "CREATE_NAMESPACE", epoch=3)
    with pytest.raises(StepFailure) as late:
        await run(west, "CREATE_NAMESPACE", epoch=2)
    assert late.value.code is ErrorCode.TAKEN_OVER
    assert epoch_of(west, "Namespace//airflow-dep-1") == "3"
    # a clean-up of the older mission then keeps the namespace (DELETE_DEPLOYMENT's rule)
    kept = await run(west, "DELETE_DEPLOYMENT", epoch=2)
    assert kept.details["deleted"] is False  # type: ignore[attr-defined]


class NewerUpsertAfterTheRead(InMemoryCluster):
    """The newer mission's upsert lands after the late flight read the components and
    before it writes the first of them."""

    pending = True

    async def apply(self, manifest: Manifest, *, if_version: str | None = None) -> None:
        if self.pending and manifest["kind"] == "Deployment" and if_version is not None:
            self.pending = False
            await run(self, "UPSERT_DEPLOYMENT", epoch=3, image=NEW)
        await super().apply(manifest, if_version=if_version)


async def test_a_newer_write_between_the_read_and_the_write_is_never_overwritten() -> None:
    west = NewerUpsertAfterTheRead("west", MemorySecretStore())
    west.pending = False
    await run(west, "CREATE_NAMESPACE", epoch=2)
    await run(west, "UPSERT_DEPLOYMENT", epoch=2, image=OLD)  # the older mission's first run
    west.pending = True

    with pytest.raises(StepFailure) as late:  # its re-run, racing the newer mission
        await run(west, "UPSERT_DEPLOYMENT", epoch=2, image=OLD)
    assert late.value.code is ErrorCode.TAKEN_OVER
    assert west.pending is False  # the race did happen
    assert images(west) == {NEW}
    assert {epoch_of(west, key) for key in west.objects() if key.startswith("Deployment/")} == {"3"}


async def test_a_late_upsert_makes_nothing_in_a_namespace_a_newer_mission_stamped() -> None:
    """The newer mission has stamped the namespace and not written its components yet:
    the late upsert must not make them (with the old image) in the meantime."""
    west = InMemoryCluster("west", MemorySecretStore())
    await run(west, "CREATE_NAMESPACE", epoch=3)
    with pytest.raises(StepFailure) as late:
        await run(west, "UPSERT_DEPLOYMENT", epoch=2, image=OLD)
    assert late.value.code is ErrorCode.TAKEN_OVER
    assert "Namespace airflow-dep-1 was written by a newer mission" in late.value.message
    assert images(west) == set()


async def test_components_made_before_the_annotation_existed_are_written_as_before() -> None:
    """An older Pilot's components carry no epoch: they tell nothing, and are updated."""
    west = InMemoryCluster("west", MemorySecretStore())
    await run(west, "CREATE_NAMESPACE", epoch=1)
    spec = DeploymentSpec("dep-1", OLD)
    for component in spec.components:
        manifest = component_manifest(spec, component, OLD, "B")
        del manifest["metadata"]["annotations"]
        await west.apply(manifest)
    await run(west, "UPSERT_DEPLOYMENT", epoch=1, image=NEW)
    assert images(west) == {NEW}
