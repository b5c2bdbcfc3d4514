"""Keeps exactly one link task per owned, linkable registration.

Ownership changes (partitions assigned or revoked) and registration changes both end
in :meth:`LinkSupervisor.reconcile` with the full desired set, so the supervisor never
has to reason about deltas: it starts what is missing, stops what is no longer
wanted, and restarts a link whose endpoint or expected identity changed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from jetbridge.common.cancellation import stop_tasks
from jetbridge.dplink.domain.health import Health
from jetbridge.dplink.domain.registry import Registration
from jetbridge.dplink.service_layer.monitor import HealthMonitor

log = logging.getLogger(__name__)

LinkRunner = Callable[[Registration], Coroutine[Any, Any, None]]

RECANCEL_AFTER_S = 1.0
"""A link stops in milliseconds; one still running after this lost its cancel."""


class LinkSupervisor:
    def __init__(self, monitor: HealthMonitor, run_link: LinkRunner) -> None:
        self.monitor = monitor
        self._run_link = run_link
        self._links: dict[str, tuple[Registration, asyncio.Task[None]]] = {}

    def owned(self) -> set[str]:
        return set(self._links)

    async def reconcile(
        self,
        desired: Mapping[str, Registration],
        known_health: Mapping[str, Health] | None = None,
        known_digests: Mapping[str, str] | None = None,
    ) -> None:
        wanted = {cid: reg for cid, reg in desired.items() if reg.linkable}
        for cluster_id in [c for c in self._links if c not in wanted]:
            await self._stop(cluster_id)
        for cluster_id, registration in wanted.items():
            running = self._links.get(cluster_id)
            if running is not None and running[0] == registration:
                continue
            if running is not None:
                await self._stop(cluster_id, forget=False)
            self.monitor.watch(
                cluster_id,
                (known_health or {}).get(cluster_id, Health.UNKNOWN),
                (known_digests or {}).get(cluster_id),
            )
            task = asyncio.create_task(self._run_link(registration), name=f"link-{cluster_id}")
            self._links[cluster_id] = (registration, task)
            log.info("linking %s at %s", cluster_id, registration.endpoint)

    async def stop_all(self) -> None:
        for cluster_id in list(self._links):
            await self._stop(cluster_id)

    async def _stop(self, cluster_id: str, forget: bool = True) -> None:
        _, task = self._links.pop(cluster_id)
        # Re-cancelled until it ends: a stop that never returned would hold the Kafka
        # rebalance we are called from until the group evicted this replica.
        await stop_tasks(task, recancel_every=RECANCEL_AFTER_S)
        if not task.cancelled() and task.exception() is not None:
            log.warning("%s had ended on an error", task.get_name(), exc_info=task.exception())
        if forget:
            self.monitor.unwatch(cluster_id)
        log.info("unlinked %s", cluster_id)
