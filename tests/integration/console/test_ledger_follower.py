"""The Console's ledger follower on the real broker: if it ends while the Console is not
stopping (its consumer died under it), the read model stops claiming to be ready and
the Console is told to end, instead of serving frozen views."""

from __future__ import annotations

import asyncio

import pytest

from jetbridge.common.events import default_registry
from jetbridge.console.adapters.ledger import LedgerFollower, LedgerReadModel
from jetbridge.navigator.adapters.event_mapping import EventMapper
from tests.integration.kafka_tools import create_topic


@pytest.fixture
async def started_follower(kafka_bootstrap: str) -> tuple[LedgerFollower, asyncio.Event]:
    """A follower on a fresh topic, started; the event is set if it asks to end."""
    topic = await create_topic(kafka_bootstrap, "ledger")
    model = LedgerReadModel(EventMapper(default_registry(), producer="test"), lambda: 0)
    follower = LedgerFollower(kafka_bootstrap, topic, model)
    told_to_end = asyncio.Event()
    follower.on_failure = told_to_end.set
    await follower.start()
    return follower, told_to_end


async def test_a_follower_that_dies_unreadies_the_model_and_ends_the_console(
    started_follower: tuple[LedgerFollower, asyncio.Event],
) -> None:
    follower, told_to_end = started_follower
    model = follower.model
    try:
        await follower.wait_ready(30)
        assert model.is_ready()
        await follower._replay.kafka.stop()  # the consumer dies under the follower
        await asyncio.wait_for(told_to_end.wait(), timeout=30)
        assert not model.is_ready()
    finally:
        await follower.stop()


async def test_a_follower_stopped_on_purpose_ends_nothing(
    started_follower: tuple[LedgerFollower, asyncio.Event],
) -> None:
    follower, told_to_end = started_follower
    await follower.wait_ready(30)
    await follower.stop()
    await asyncio.sleep(0.1)
    assert not told_to_end.is_set()
