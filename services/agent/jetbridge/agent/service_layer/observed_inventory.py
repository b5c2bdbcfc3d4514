"""Facts whose Deployment inventory is what the cluster shows (plus what the file adds).

A background task lists the cluster's Airflow namespaces every ``refresh_s``; the
heartbeats (once a second) report the last listing. Two ways this fails closed:

- The agent reports nothing before its first listing: ``start`` returns only once the
  cluster was read. A cluster registered with failover on is judged by its FIRST
  inventory (the Navigator's taint rule), so an empty placeholder would let a cluster
  full of older Deployments pass as new.
- A listing that keeps failing keeps the last one (a blip must not change the
  inventory) and, after ``stale_after_s``, adds a failing check: DP-Link marks the
  cluster DEGRADED, which no failover targets.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from jetbridge.agent.domain.facts import CheckResult, ClusterFacts, DeploymentFact
from jetbridge.agent.domain.inventory import inventory
from jetbridge.agent.service_layer.ports import FactsSource, InventoryReader
from jetbridge.common.cancellation import stop_tasks
from jetbridge.common.redaction import redact

log = logging.getLogger(__name__)

CHECK = "inventory"


def outline(error: Exception) -> str:
    """An error as one short line for heartbeats and the UI: an API server's refusal as
    its status (its str carries response headers and body), credentials masked."""
    status, reason = getattr(error, "status", None), getattr(error, "reason", None)
    if isinstance(status, int) and reason:
        return f"{type(error).__name__}: {status} {reason}"
    first = (str(error).splitlines() or [""])[0][:200]
    return redact(f"{type(error).__name__}: {first}".rstrip(": "))


class ObservedInventory:
    def __init__(
        self,
        base: FactsSource,
        reader: InventoryReader,
        *,
        refresh_s: float = 10.0,
        stale_after_s: float = 60.0,
        read_timeout_s: float = 15.0,
        first_read_retry_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base = base
        self._reader = reader
        self._refresh_s = refresh_s
        self._stale_after_s = stale_after_s
        self._read_timeout_s = read_timeout_s
        self._retry_s = first_read_retry_s
        self._clock = clock
        self._deployments: tuple[DeploymentFact, ...] = ()
        self._observed_at: float | None = None
        self._last_error = ""
        self._task: asyncio.Task[None] | None = None

    async def facts(self) -> ClusterFacts:
        """The listing, plus what the facts file states: Airflow Deployments not made by
        the Pilot (older ones, git-sync or DAG-only) carry no label to find them by, and
        the install can declare them there. A union: fail closed for the taint rule."""
        base = await self._base.facts()
        listed = {d.deployment_id for d in self._deployments}
        stated = tuple(d for d in base.deployments if d.deployment_id not in listed)
        merged = tuple(sorted(self._deployments + stated, key=lambda d: d.deployment_id))
        return replace(base, deployments=merged)

    async def checks(self) -> Sequence[CheckResult]:
        checks = list(await self._base.checks())
        age = None if self._observed_at is None else self._clock() - self._observed_at
        if age is None or age >= self._stale_after_s:
            since = "never read" if age is None else f"not read for {age:.0f} s"
            why = f"the cluster's Airflow namespaces {since}: {self._last_error}"
            checks.append(CheckResult(CHECK, False, why))
        return checks

    async def refresh(self) -> bool:
        """List the namespaces once; True when the inventory is now this listing."""
        try:
            listed = await asyncio.wait_for(self._reader.namespaces(), self._read_timeout_s)
            schedulers = await asyncio.wait_for(self._reader.schedulers(), self._read_timeout_s)
        except Exception as error:  # the API server is away or refused: keep the last
            self._last_error = outline(error)
            log.warning("cluster inventory not read: %s", self._last_error)
            return False
        self._deployments = inventory(listed, schedulers)
        self._observed_at = self._clock()
        self._last_error = ""
        return True

    async def start(self) -> None:
        """Returns once the cluster was read (see the module's first point), then
        re-reads every refresh_s in the background."""
        while not await self.refresh():  # noqa: ASYNC110 (a retry, not a wait for an event)
            await asyncio.sleep(self._retry_s)
        self._task = asyncio.create_task(self._loop(), name="inventory-observer")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_s)
            await self.refresh()

    async def stop(self) -> None:
        if self._task is not None:
            await stop_tasks(self._task)
