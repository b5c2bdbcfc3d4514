"""Fixtures for the local Kubernetes data planes (deploy/local/kube).

``kube_stack`` calls ``kubestack.up()``: it reuses running clusters and starts missing
ones, so these tests work on a fresh checkout too. On a machine whose binary cache is
still empty, ``up`` first compiles the control plane (tens of minutes, see
docs/local-kubernetes.md); only then does the first kube test get a long timeout.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes import client, config

KUBE_DIR = Path(__file__).resolve().parents[3] / "deploy" / "local" / "kube"
sys.path.insert(0, str(KUBE_DIR))
sys.path.insert(0, str(KUBE_DIR.parent))  # ports.free_port

import kubebuild  # noqa: E402
import kubestack  # noqa: E402

EAST, WEST = kubestack.DEFAULT_CLUSTERS
COLD_BUILD_TIMEOUT = 3600
T = TypeVar("T")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if all(kubebuild.is_built(c) for c in kubebuild.COMPONENTS):
        return
    here = str(Path(__file__).parent)
    first = next((i for i in items if str(i.path).startswith(here)), None)
    if first is not None:
        first.add_marker(pytest.mark.timeout(COLD_BUILD_TIMEOUT))


@pytest.fixture(scope="session")
def kube_stack() -> kubestack.KubeStack:
    return kubestack.up()


def _client(stack: kubestack.KubeStack, name: str) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=str(stack.kubeconfigs[name]))
    yield api
    api.close()


@pytest.fixture(scope="session")
def east(kube_stack: kubestack.KubeStack) -> Iterator[client.ApiClient]:
    yield from _client(kube_stack, EAST)


@pytest.fixture(scope="session")
def west(kube_stack: kubestack.KubeStack) -> Iterator[client.ApiClient]:
    yield from _client(kube_stack, WEST)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_until(
    probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.1
) -> T:
    """Poll until ``probe`` returns something truthy; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def ready_condition(obj: dict[str, Any]) -> dict[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return dict(cond)
    return None


@pytest.fixture
def namespace_on() -> Iterator[Callable[[client.ApiClient, str], str]]:
    """Create uniquely named namespaces; delete them (without waiting) afterwards."""
    made: list[tuple[client.ApiClient, str]] = []

    def make(api: client.ApiClient, prefix: str = "t") -> str:
        name = unique(prefix)
        client.CoreV1Api(api).create_namespace({"metadata": {"name": name}})
        made.append((api, name))
        return name

    yield make
    for api, name in made:
        try:
            client.CoreV1Api(api).delete_namespace(name)
        except client.ApiException as err:
            if err.status != 404:
                raise
