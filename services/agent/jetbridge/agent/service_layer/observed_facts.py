"""Facts as the install states them, with the ClusterSecretStore as the cluster shows it.

The eligibility rule "a valid, authenticated ClusterSecretStore exists" is only worth
something if the store's status is observed, not typed into a values file: an expired
credential must grey out the Trigger button before a failover, not fail it at
APPLY_EXTERNAL_SECRETS. So a background task reads the store every ``refresh_s`` and
the heartbeats (once a second) report the last reading.

An API server that does not answer keeps the last reading for ``stale_after_s`` (a
blip must not flap eligibility), then the store is reported neither valid nor
authenticated, with the error: fail closed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from jetbridge.agent.domain.facts import CheckResult, ClusterFacts, SecretStoreStatus
from jetbridge.agent.domain.secret_store import store_status, unreadable
from jetbridge.agent.service_layer.ports import FactsSource, SecretStoreReader
from jetbridge.common.cancellation import stop_tasks

log = logging.getLogger(__name__)


class ObservedFactsSource:
    def __init__(
        self,
        base: FactsSource,
        reader: SecretStoreReader,
        store_name: str,
        *,
        refresh_s: float = 10.0,
        stale_after_s: float = 60.0,
        read_timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base = base
        self._reader = reader
        self.store_name = store_name
        self._refresh_s = refresh_s
        self._stale_after_s = stale_after_s
        self._read_timeout_s = read_timeout_s
        self._clock = clock
        self._status = SecretStoreStatus(store_name, False, False, "not observed yet")
        self._observed_at: float | None = None
        self._task: asyncio.Task[None] | None = None

    async def facts(self) -> ClusterFacts:
        return replace(await self._base.facts(), cluster_secret_store=self._status)

    async def checks(self) -> Sequence[CheckResult]:
        return await self._base.checks()

    async def refresh(self) -> SecretStoreStatus:
        """Read the store once; what the heartbeats report from now on."""
        try:
            obj = await asyncio.wait_for(self._reader.read(self.store_name), self._read_timeout_s)
        except Exception as error:  # the API server is away or refused: keep, then fail closed
            why = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            age = None if self._observed_at is None else self._clock() - self._observed_at
            if age is None or age >= self._stale_after_s:
                self._status = unreadable(self.store_name, why)
            log.warning("ClusterSecretStore %s not read: %s", self.store_name, why)
            return self._status
        self._status = store_status(self.store_name, obj)
        self._observed_at = self._clock()
        return self._status

    async def start(self) -> None:
        """One reading now (the first heartbeat carries it), then one every refresh_s."""
        await self.refresh()
        self._task = asyncio.create_task(self._loop(), name="secret-store-observer")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_s)
            await self.refresh()

    async def stop(self) -> None:
        if self._task is not None:
            await stop_tasks(self._task)
