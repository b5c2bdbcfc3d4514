"""The Dispatcher's batch calls to a real agent over loopback mTLS, into a real Flightdeck.

Flights dispatched side by side to one data plane go as StartFlights / ClearStepsBatch
calls; each item is answered as its own unary call would be (one refused, the others
done), and an agent without the batch calls is called one flight at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import grpc
import pytest

from jetbridge.agent.adapters.facts_static import StaticFactsSource
from jetbridge.agent.adapters.grpc_server import AgentServer, DataPlaneServicer
from jetbridge.agent.service_layer.flights import FlightService
from jetbridge.common.dataplane_api import pb2_grpc
from jetbridge.common.tls import cluster_identity
from jetbridge.dispatcher.adapters.grpc_client import GrpcDataPlaneClient
from jetbridge.dispatcher.domain.model import Clearance, Endpoint, PlannedFlight
from jetbridge.dispatcher.service_layer.ports import DispatchError, Started
from jetbridge.flightdeck import Flightdeck
from tests.integration.planes import flightdeck_on, make_tls, sample_facts, unique_cluster

STEPS = ("CREATE_NAMESPACE", "APPLY_EXTERNAL_SECRETS", "UPSERT_DEPLOYMENT")


def flight(n: int, cluster_id: str, epoch: int = 3) -> PlannedFlight:
    return PlannedFlight(
        flight_id=f"f-{n}",
        mission_id=f"m-{n}",
        request_id="r-1",
        deployment_id=f"d-{n}",
        side="DESTINATION",
        cluster_id=cluster_id,
        mode="FORCED",
        fencing_epoch=epoch,
        drain_timeout_seconds=60,
        image="registry.example.com/airflow:1.2.3",
        steps=STEPS,
        step_deadline_seconds=(60, 120, 600),
    )


def clearance(flight_id: str, clearance_id: str, *steps: str) -> Clearance:
    return Clearance(clearance_id, flight_id, steps, 0, 1_700_000_000_000, (1,) * len(steps))


class OldAgent(DataPlaneServicer):
    """An agent from before the batch calls: the generated servicer's UNIMPLEMENTED."""

    async def StartFlights(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return pb2_grpc.DataPlaneServicer.StartFlights(self, request, context)  # type: ignore[no-untyped-call]

    async def ClearStepsBatch(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return pb2_grpc.DataPlaneServicer.ClearStepsBatch(self, request, context)  # type: ignore[no-untyped-call]


@dataclass
class Wired:
    """A real agent of ``cluster`` on a real Flightdeck, and the Dispatcher's client."""

    cluster: str
    deck: Flightdeck
    batches: list[tuple[str, int]]  # (Flightdeck operation, items) of each batch call
    endpoint: Endpoint
    client: GrpcDataPlaneClient


@asynccontextmanager
async def wired(
    postgres_dsn: str, tmp_path: Path, servicer: type[DataPlaneServicer]
) -> AsyncIterator[Wired]:
    cluster = unique_cluster()
    tls = make_tls(tmp_path, cluster)
    async with flightdeck_on(postgres_dsn) as deck:
        batches: list[tuple[str, int]] = []
        flights = FlightService(deck, lambda operation, items: batches.append((operation, items)))
        facts = StaticFactsSource(sample_facts())
        server = AgentServer(servicer(cluster, flights, facts, 1.0), tls.cluster(cluster))
        port = await server.start()
        client = GrpcDataPlaneClient(tls.control_plane())
        try:
            endpoint = Endpoint(f"127.0.0.1:{port}", cluster_identity(cluster))
            yield Wired(cluster, deck, batches, endpoint, client)
        finally:
            await client.close()
            await server.stop(None)


async def test_flights_dispatched_together_go_in_few_calls_each_answered_as_its_own(
    postgres_dsn: str, tmp_path: Path
) -> None:
    async with wired(postgres_dsn, tmp_path, DataPlaneServicer) as w:
        client, endpoint, cluster = w.client, w.endpoint, w.cluster
        warm = await client.start_flight(endpoint, flight(0, cluster), 5.0)  # warm channel
        assert warm == Started(created=True)
        flights = [flight(n, cluster) for n in range(1, 41)]
        conflicting = replace(flight(0, cluster), fencing_epoch=9)  # f-0 under a new epoch
        results = await asyncio.gather(
            *(client.start_flight(endpoint, f, 5.0) for f in [*flights, conflicting]),
            return_exceptions=True,
        )
        assert results[:40] == [Started(created=True)] * 40
        refused = results[40]
        assert isinstance(refused, DispatchError) and refused.code == "FAILED_PRECONDITION"
        again = await asyncio.gather(*(client.start_flight(endpoint, f, 5.0) for f in flights))
        assert again == [Started(created=False)] * 40  # idempotent by flight id, as unary

        cleared = await asyncio.gather(
            *(
                client.clear_steps(
                    endpoint, clearance(f.flight_id, f"c-{f.flight_id}", *STEPS[:2]), 5.0
                )
                for f in flights
            ),
            client.clear_steps(endpoint, clearance("f-unknown", "c-x", STEPS[0]), 5.0),
            client.clear_steps(endpoint, clearance("f-1", "c-bad", STEPS[2], STEPS[0]), 5.0),
            return_exceptions=True,
        )
        assert cleared[:40] == [True] * 40
        assert isinstance(cleared[40], DispatchError) and cleared[40].code == "NOT_FOUND"
        assert isinstance(cleared[41], DispatchError)
        assert cleared[41].code == "INVALID_ARGUMENT"
        sizes = client.batch_sizes()
        stored = [await w.deck.get(f.flight_id) for f in flights]
        writes = sum(1 for operation, _ in w.batches if operation == "admit")
        reads = sum(1 for operation, _ in w.batches if operation == "get_many")
        clears = [items for operation, items in w.batches if operation == "clear_many"]
    assert all(s is not None and s.fencing_epoch == 3 and s.cleared_through == 1 for s in stored)
    start_calls, start_items = sizes["StartFlights"]
    clear_calls, clear_items = sizes["ClearStepsBatch"]
    assert (start_items, clear_items) == (1 + 41 + 40, 42)
    # the 41 side-by-side starts went in a few calls, not 41
    assert start_calls <= 1 + 4 + 4, sizes
    assert clear_calls <= 4, sizes
    # and each call's items reached Flightdeck in one write (calls landing together: one)
    assert 1 <= writes <= start_calls, (writes, sizes)
    assert 1 <= reads <= clear_calls, (reads, sizes)  # the clearances' reads, likewise
    # and their writes: the 40 valid ones (the unknown and the malformed stop before)
    assert 1 <= len(clears) <= clear_calls and sum(clears) == 40, (clears, sizes)
    assert not client.one_at_a_time


async def test_an_agent_without_batch_calls_is_called_one_flight_at_a_time(
    postgres_dsn: str, tmp_path: Path
) -> None:
    async with wired(postgres_dsn, tmp_path, OldAgent) as w:
        client, endpoint = w.client, w.endpoint
        flights = [flight(n, w.cluster) for n in range(5)]
        assert (
            await asyncio.gather(*(client.start_flight(endpoint, f, 5.0) for f in flights))
            == [Started(created=True)] * 5
        )
        assert client.one_at_a_time == {endpoint}
        assert await client.clear_steps(endpoint, clearance("f-0", "c-0", STEPS[0]), 5.0)
        with pytest.raises(DispatchError) as unknown:
            await client.clear_steps(endpoint, clearance("f-9", "c-9", STEPS[0]), 5.0)
        assert unknown.value.code == "NOT_FOUND"
        sizes = client.batch_sizes()
        stored = [await w.deck.get(f.flight_id) for f in flights]
    assert all(s is not None for s in stored)
    assert sizes["StartFlights"][0] >= 1  # tried once, answered UNIMPLEMENTED
    assert "ClearStepsBatch" not in sizes  # never tried after that


async def test_a_flight_sent_with_its_first_clearance_is_stored_cleared_once(
    postgres_dsn: str, tmp_path: Path
) -> None:
    """The Dispatcher's hand-over: one StartFlight carries the first clearance. A retry
    of the call applies it once; a clearance that does not fit the plan writes nothing."""
    async with wired(postgres_dsn, tmp_path, DataPlaneServicer) as w:
        client, endpoint = w.client, w.endpoint
        f1 = flight(1, w.cluster)
        first = clearance("f-1", "c-1", *STEPS[:2])
        assert await client.start_flight(endpoint, f1, 5.0, first) == Started(True, True)
        assert await client.start_flight(endpoint, f1, 5.0, first) == Started(False, True)
        assert not await client.clear_steps(endpoint, first, 5.0)  # already applied
        stored = await w.deck.get("f-1")
        f2 = flight(2, w.cluster)
        with pytest.raises(DispatchError) as refused:
            bad = clearance("f-2", "c-2", STEPS[2], STEPS[0])  # out of plan order
            await client.start_flight(endpoint, f2, 5.0, bad)
        unwritten = await w.deck.get("f-2")
        writes = [operation for operation, _ in w.batches]
    assert stored is not None and stored.cleared_through == 1 and stored.attempt == 0
    assert refused.value.code == "INVALID_ARGUMENT" and "not a run" in refused.value.message
    assert unwritten is None
    assert writes.count("clear_many") == 3 and writes.count("get_many") == 1


async def test_a_start_that_arrives_after_its_flights_cancellation_is_refused(
    postgres_dsn: str, tmp_path: Path
) -> None:
    """A Dispatcher replica that stalled between its check and its call (past its
    partition's turn) may send a flight's hand-over after another replica cancelled
    the flight, which the data plane had never seen: the cancellation left a tombstone,
    so the late StartFlight is refused and nothing runs."""
    async with wired(postgres_dsn, tmp_path, DataPlaneServicer) as w:
        client, endpoint = w.client, w.endpoint
        await client.cancel_flight(endpoint, "f-1", "mission CANCELLED", 5.0)
        with pytest.raises(DispatchError) as late:
            await client.start_flight(
                endpoint, flight(1, w.cluster), 5.0, clearance("f-1", "c-1", *STEPS)
            )
        later = await client.clear_steps(endpoint, clearance("f-1", "c-2", STEPS[1]), 5.0)
        stored = await w.deck.get("f-1")
        claimed = await w.deck.claim("pilot-test", 10, 30)
    assert later is False  # a later clearance finds it cancelled, as any cancelled flight
    assert late.value.code == "FAILED_PRECONDITION"
    assert "cancelled before it reached this data plane" in late.value.message
    assert stored is not None and stored.never_started and claimed == []
