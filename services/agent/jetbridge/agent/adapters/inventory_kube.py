"""``InventoryReader`` on the official Kubernetes client: LIST the labelled namespaces,
and the Airflow schedulers' Deployments of every namespace.

Raw JSON (``_preload_content=False``), not the client's typed objects: a thousand
namespaces deserialise in milliseconds instead of a good part of a second. Pages of
500, as ``kubectl`` does, so a large cluster is not one huge response. RBAC: ``list``
on ``namespaces`` and on ``deployments`` (apps) cluster-wide (deploy/helm,
``agent.observeInventory``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kubernetes import client

from jetbridge.agent.adapters.kube_client import api_client
from jetbridge.agent.domain.inventory import SCHEDULER_SELECTOR, SELECTOR

PAGE = 500


class KubeInventoryReader:
    def __init__(self, kubeconfig: Path | None, request_timeout_s: float = 10.0) -> None:
        api = api_client(kubeconfig)
        self._core = client.CoreV1Api(api)
        self._apps = client.AppsV1Api(api)
        self._timeout = request_timeout_s

    def _list(self, call: Callable[..., Any], selector: str) -> list[Mapping[str, Any]]:
        items: list[Mapping[str, Any]] = []
        token: str | None = None
        while True:
            response = call(
                label_selector=selector,
                limit=PAGE,
                _continue=token,
                _preload_content=False,
                _request_timeout=self._timeout,
            )
            page = json.loads(response.data)  # raw: urllib3
            items += page.get("items") or []
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items

    async def namespaces(self) -> list[Mapping[str, Any]]:
        return await asyncio.to_thread(self._list, self._core.list_namespace, SELECTOR)

    async def schedulers(self) -> list[Mapping[str, Any]]:
        return await asyncio.to_thread(
            self._list, self._apps.list_deployment_for_all_namespaces, SCHEDULER_SELECTOR
        )
