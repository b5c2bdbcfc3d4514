"""``SecretStoreReader`` on the official Kubernetes client: GET one ClusterSecretStore.

The client is synchronous; the one call runs on the loop's default executor, rarely
(every few seconds). A kubeconfig file (the local stack) or the pod's ServiceAccount
(in a cluster: RBAC ``get`` on ``clustersecretstores``, deploy/helm) says where.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from jetbridge.agent.adapters.kube_client import api_client

GROUP, VERSION, PLURAL = "external-secrets.io", "v1", "clustersecretstores"


class KubeSecretStoreReader:
    def __init__(self, kubeconfig: Path | None, request_timeout_s: float = 5.0) -> None:
        self._api = client.CustomObjectsApi(api_client(kubeconfig))
        self._timeout = request_timeout_s

    def _get(self, name: str) -> Mapping[str, Any] | None:
        try:
            obj = self._api.get_cluster_custom_object(
                GROUP, VERSION, PLURAL, name, _request_timeout=self._timeout
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return cast(Mapping[str, Any], obj)

    async def read(self, name: str) -> Mapping[str, Any] | None:
        return await asyncio.get_running_loop().run_in_executor(None, self._get, name)
