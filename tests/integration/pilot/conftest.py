"""Pilot integration fixtures: the local Kubernetes stack (shared with tests/integration/kube)."""

from tests.integration.kube.conftest import kube_stack

__all__ = ["kube_stack"]
