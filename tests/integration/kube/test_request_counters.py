"""The benchmark's reading of an API server's request counters, on a real one."""

from __future__ import annotations

import sys
from pathlib import Path

import kubestack
from kubernetes import client

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench" / "e2e"))
from kube_requests import delta, requests_by_verb

from tests.integration.kube.conftest import EAST


def test_a_get_of_a_namespace_is_counted(
    kube_stack: kubestack.KubeStack, east: client.ApiClient
) -> None:
    kubeconfig = kube_stack.kubeconfigs[EAST]
    before = requests_by_verb(kubeconfig)
    for _ in range(3):
        client.CoreV1Api(east).read_namespace("default")
    served = delta(before, requests_by_verb(kubeconfig))
    assert served.get("GET namespaces", 0) >= 3
    assert before["GET namespaces"] > 0 and len(before) > 20  # every verb and resource
