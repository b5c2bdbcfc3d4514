"""Dispatch one FlightPlanned: gate on cancellation, find the cluster, StartFlight, report.

Before deciding, the state is synced (every cancellation or registration already on
the log is applied), so a mission cancelled before its flight was planned is never
dispatched; the check is repeated before every retry, so a cancellation that arrives
while we back off stops the retries too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from jetbridge.common.backoff import Backoff
from jetbridge.common.events.envelope import EventRecord, new_event
from jetbridge.dispatcher.domain.model import (
    DispatchState,
    Endpoint,
    PlannedFlight,
    RetryPolicy,
    is_transient,
)
from jetbridge.dispatcher.service_layer.ports import (
    DataPlaneClient,
    DispatchError,
    Outcomes,
    StateView,
)

log = logging.getLogger(__name__)
PRODUCER = "dispatcher"


class Dispatcher:
    def __init__(
        self,
        client: DataPlaneClient,
        state: DispatchState,
        view: StateView,
        outcomes: Outcomes,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self._client = client
        self._state = state
        self._view = view
        self._outcomes = outcomes
        self._sleep = sleep
        self._wall_ms = wall_ms
        self._backoff = Backoff(self.policy.backoff_base_s, self.policy.backoff_cap_s)
        self.skipped: list[str] = []

    async def handle(self, event: EventRecord) -> None:
        if event.event_type != "FlightPlanned":
            return
        flight = PlannedFlight.from_payload(event.payload)
        await self._view.sync()
        if why := self._state.cancelled(flight):
            self._skip(flight, why)
            return
        endpoint = await self._endpoint_of(flight.cluster_id)
        if endpoint is None:
            await self._failed(
                event, flight, "UNKNOWN_CLUSTER", "no registration", transient=True, attempts=0
            )
            return
        for attempt in range(1, self.policy.max_attempts + 1):
            try:
                created = await self._client.start_flight(
                    endpoint, flight, self.policy.call_deadline_s
                )
            except DispatchError as error:
                transient = is_transient(error.code)
                if not transient or attempt == self.policy.max_attempts:
                    await self._failed(
                        event,
                        flight,
                        error.code,
                        error.message,
                        transient=transient,
                        attempts=attempt,
                    )
                    return
                log.info("StartFlight %s: %s, retrying", flight.flight_id, error.code)
                await self._sleep(self._backoff.delay(attempt - 1))
                await self._view.sync()
                if why := self._state.cancelled(flight):
                    self._skip(flight, why)
                    return
                continue
            await self._outcomes.publish(
                self._event(
                    "FlightDispatched",
                    event,
                    flight,
                    {"dispatched_at": self._wall_ms(), "attempts": attempt, "created": created},
                )
            )
            return

    async def _endpoint_of(self, cluster_id: str) -> Endpoint | None:
        """Wait a little for a registration still on its way, then give up."""
        deadline = time.monotonic() + self.policy.registration_wait_s
        while (endpoint := self._state.endpoints.get(cluster_id)) is None:
            if time.monotonic() >= deadline:
                return None
            await self._sleep(0.1)
            await self._view.sync()
        return endpoint

    def _skip(self, flight: PlannedFlight, why: str) -> None:
        self.skipped.append(flight.flight_id)
        log.info("not dispatching %s: %s", flight.flight_id, why)

    async def _failed(
        self,
        cause: EventRecord,
        flight: PlannedFlight,
        code: str,
        message: str,
        *,
        transient: bool,
        attempts: int,
    ) -> None:
        log.warning("dispatch of %s failed: %s %s", flight.flight_id, code, message)
        await self._outcomes.publish(
            self._event(
                "FlightDispatchFailed",
                cause,
                flight,
                {
                    "error_code": code,
                    "error": message[:2000],
                    "transient": transient,
                    "failed_at": self._wall_ms(),
                    "attempts": attempts,
                },
            )
        )

    @staticmethod
    def _event(
        event_type: str, cause: EventRecord, flight: PlannedFlight, fields: dict[str, Any]
    ) -> EventRecord:
        payload = {
            "flight_id": flight.flight_id,
            "steps": list(flight.steps),
            "mission_id": flight.mission_id,
            "cluster_id": flight.cluster_id,
            **fields,
        }
        return new_event(
            event_type,
            payload,
            aggregate_type="Flight",
            aggregate_id=flight.flight_id,
            producer=PRODUCER,
            schema_version=1,
            caused_by=cause,
        )
