"""The cluster contract on the Kubernetes adapter, against the local data planes
(deploy/local/kube: real apiserver, controller-manager, kwok, ESO stand-in, moto store)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from jetbridge.pilot.domain.airflow import component_manifest, namespace_manifests
from jetbridge.pilot.service_layer.ports import ClusterPort
from tests.unit.pilot.cluster_contract import ClusterContract, new_spec

from .kube import kube_pair


class TestKubernetesCluster(ClusterContract):
    @pytest.fixture
    async def pair(self, kube_stack: Any) -> AsyncIterator[tuple[ClusterPort, ClusterPort]]:
        self.store = kube_stack.cluster_secret_store
        async with kube_pair(kube_stack) as clusters:
            yield clusters


async def _until_live(changes: Any, within_s: float = 15.0) -> None:
    deadline = time.monotonic() + within_s
    while not changes.live:
        assert time.monotonic() < deadline, "the watch never opened"
        await asyncio.sleep(0.05)


async def test_a_change_in_the_watched_namespace_wakes_the_wait_and_one_elsewhere_does_not(
    kube_stack: Any,
) -> None:
    async with kube_pair(kube_stack) as (east, _):
        watched, other = new_spec(), new_spec()
        for spec in (watched, other):
            for manifest in namespace_manifests(spec):
                await east.apply(manifest)
        ns = watched.namespace
        changes = east.changes([("Deployment", ns), ("Namespace", ns)])
        try:
            await _until_live(changes)
            await changes.wait(0.0)  # forget what happened before this point
            # a Deployment in the other namespace: no wake-up for a whole second
            await east.apply(component_manifest(other, other.components[0], "reg.test/a:1", "A"))
            started = time.monotonic()
            assert await changes.wait(1.0) is False
            assert time.monotonic() - started >= 0.95

            # one in the watched namespace: woken well before the 10 s
            await east.apply(
                component_manifest(watched, watched.components[0], "reg.test/a:1", "A")
            )
            started = time.monotonic()
            assert await changes.wait(10.0) is True
            assert time.monotonic() - started < 5.0

            # the namespace's own deletion, through the Namespace watch
            await changes.wait(0.0)
            await east.delete("Namespace", None, watched.namespace)
            started = time.monotonic()
            assert await changes.wait(10.0) is True
            assert time.monotonic() - started < 5.0
        finally:
            changes.close()
