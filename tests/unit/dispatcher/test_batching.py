"""BatchLane: calls that wait together go as one batch call, each answered as its own."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from jetbridge.dispatcher.adapters.batching import BatchCallError, BatchLane
from jetbridge.dispatcher.service_layer.ports import DispatchError


class Agent:
    """A fake batch call: answers each item with its double after ``release`` is set."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.timeouts: list[float] = []
        self.release = asyncio.Event()
        self.release.set()
        self.fail_with: Exception | None = None

    async def send(self, items: Sequence[int], timeout: float) -> list[int]:  # noqa: ASYNC109
        self.calls.append(list(items))
        self.timeouts.append(timeout)
        await self.release.wait()
        if self.fail_with is not None:
            raise self.fail_with
        return [2 * i for i in items]


async def test_a_lone_call_goes_at_once_and_the_queue_grows_behind_a_call_in_flight() -> None:
    agent = Agent()
    lane = BatchLane(agent.send, max_items=3)
    assert await lane.call(1, 5.0) == 2
    agent.release.clear()
    first = asyncio.create_task(lane.call(10, 5.0))
    await asyncio.sleep(0)  # the sender takes it and waits on the agent
    rest = [asyncio.create_task(lane.call(i, 5.0)) for i in range(20, 25)]
    await asyncio.sleep(0)
    agent.release.set()
    assert await first == 20
    assert await asyncio.gather(*rest) == [40, 42, 44, 46, 48]
    # 1 alone, 10 alone (sent before the others queued), then the five in calls of 3
    assert agent.calls == [[1], [10], [20, 21, 22], [23, 24]]
    assert (lane.calls, lane.items) == (4, 7)


async def test_an_item_that_waited_does_not_cut_the_deadline_of_fresh_ones() -> None:
    """One item waited 2 s of its 3 s behind a slow call; a fresh one joined it. With
    the earliest deadline the batch call would have 1 s at most; it gets the latest
    item's deadline, and both are answered. (Seconds, not tenths: the margins must
    outlast a loaded machine's late wake-ups.)"""
    agent = Agent()
    agent.release.clear()
    lane = BatchLane(agent.send)
    first = asyncio.create_task(lane.call(1, 5.0))
    await asyncio.sleep(0)
    stale = asyncio.create_task(lane.call(2, 3.0))
    await asyncio.sleep(2.0)
    fresh = asyncio.create_task(lane.call(3, 3.0))
    await asyncio.sleep(0)
    agent.release.set()
    assert (await first, await stale, await fresh) == (2, 4, 6)
    assert agent.calls == [[1], [2, 3]]
    assert 2.0 < agent.timeouts[1] <= 3.0  # the fresh item's, not the stale one's <= 1 s


async def test_the_call_deadline_is_the_latest_item_s_and_an_expired_item_is_not_sent() -> None:
    agent = Agent()
    agent.release.clear()
    lane = BatchLane(agent.send)
    blocking = asyncio.create_task(lane.call(1, 5.0))
    await asyncio.sleep(0)
    late = asyncio.create_task(lane.call(2, 0.01))  # expires while call 1 is in flight
    soon = asyncio.create_task(lane.call(3, 2.0))
    await asyncio.sleep(0.05)
    agent.release.set()
    assert await blocking == 2 and await soon == 6
    with pytest.raises(DispatchError) as expired:
        await late
    assert expired.value.code == "DEADLINE_EXCEEDED"
    assert not isinstance(expired.value, BatchCallError)
    assert agent.calls == [[1], [3]]
    assert 4.5 < agent.timeouts[0] <= 5.0 and 1.5 < agent.timeouts[1] <= 2.0


async def test_a_failed_call_fails_each_of_its_items_and_the_lane_goes_on() -> None:
    agent = Agent()
    agent.release.clear()
    lane = BatchLane(agent.send)
    first = asyncio.create_task(lane.call(1, 5.0))
    await asyncio.sleep(0)
    queued = [asyncio.create_task(lane.call(i, 5.0)) for i in (2, 3)]
    await asyncio.sleep(0)
    agent.fail_with = BatchCallError("UNAVAILABLE", "agent restarting")
    agent.release.set()
    for task in (first, *queued):
        with pytest.raises(BatchCallError) as failed:
            await task
        assert (failed.value.code, failed.value.message) == ("UNAVAILABLE", "agent restarting")
    agent.fail_with = RuntimeError("a bug in the transport")
    with pytest.raises(BatchCallError) as unexpected:
        await lane.call(4, 5.0)
    assert unexpected.value.code == "UNKNOWN" and "a bug" in unexpected.value.message
    agent.fail_with = None
    assert await lane.call(5, 5.0) == 10


async def test_an_answer_of_the_wrong_length_fails_every_item_of_the_call() -> None:
    async def one_answer(items: Sequence[int], timeout: float) -> list[int]:  # noqa: ASYNC109
        return [0]

    lane = BatchLane(one_answer)
    calls = [asyncio.create_task(lane.call(i, 5.0)) for i in range(2)]  # queued together
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert [type(r) for r in results] == [BatchCallError, BatchCallError]
    assert all(isinstance(r, BatchCallError) and r.code == "INTERNAL" for r in results)


async def test_a_caller_that_gave_up_is_skipped() -> None:
    agent = Agent()
    agent.release.clear()
    lane = BatchLane(agent.send)
    first = asyncio.create_task(lane.call(1, 5.0))
    await asyncio.sleep(0)
    gone = asyncio.create_task(lane.call(2, 5.0))
    kept = asyncio.create_task(lane.call(3, 5.0))
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.sleep(0)
    agent.release.set()
    assert await first == 2 and await kept == 6
    assert agent.calls == [[1], [3]]
