"""The Navigator's input partitions on the real broker: the reports topics of the
registered clusters are read, those of the clusters registered at the start and of each
one registered after it, asked about by name (never every topic on the broker), without
losing the place reached on the others."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from jetbridge.common import topics
from jetbridge.common.kafka import EventPublisher
from jetbridge.common.kafka.enrol import create_topics, reports_topics
from jetbridge.navigator.adapters.inputs import FIXED_INPUTS, InputPartitions
from tests.integration.kafka_tools import create_sandbox


@pytest.fixture
async def consumer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaConsumer]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    yield consumer
    await consumer.stop()


def no_full_scan(consumer: AIOKafkaConsumer) -> None:
    async def every_topic() -> None:
        raise AssertionError("the inputs fetched the metadata of every topic on the broker")

    consumer._client.fetch_all_metadata = every_topic


async def _records(consumer: AIOKafkaConsumer) -> list[tuple[str, bytes]]:
    got = []
    for _ in range(10):
        for tp, records in (await consumer.getmany(timeout_ms=300)).items():
            got += [(tp.topic, r.value or b"") for r in records]
        if got:
            break
    return got


async def test_a_cluster_registered_later_has_its_reports_followed_from_their_start(
    kafka_bootstrap: str, consumer: AIOKafkaConsumer
) -> None:
    prefix = await create_sandbox(kafka_bootstrap, ["dp-a", "dp-x"])
    commands = prefix + topics.COMMANDS
    inputs = InputPartitions(consumer, prefix)
    no_full_scan(consumer)
    async with EventPublisher(kafka_bootstrap, client_id="test-inputs") as publisher:
        # dp-x is enrolled (its topic exists) and has written, but is not registered
        await publisher.send_raw(prefix + topics.reports_topic("dp-x"), b"f", b"x", [])
        await inputs.assign({}, ["dp-a"])
        assigned = {tp.topic for tp in inputs.assigned}
        assert prefix + topics.reports_topic("dp-a") in assigned
        assert prefix + topics.reports_topic("dp-x") not in assigned
        await publisher.send_raw(commands, b"k", b"first", [])
        assert await _records(consumer) == [(commands, b"first")]

        async def no_positions() -> dict[tuple[str, int], int]:
            return {}

        # dp-b registers: its topic was created (enrolment) and holds a report already
        assert await inputs.follow(["dp-a", "dp-b"], no_positions) == set()  # no topic yet
        await create_topics(kafka_bootstrap, prefix, reports_topics(["dp-b"]), security={})
        reports_b = prefix + topics.reports_topic("dp-b")
        await publisher.send_raw(reports_b, b"f", b"early report", [])
        assert await inputs.follow(["dp-a", "dp-b"], no_positions) == {"dp-b"}
        assert TopicPartition(reports_b, 0) in inputs.assigned
        await publisher.send_raw(commands, b"k", b"second", [])
        got = await _records(consumer)
        got += await _records(consumer) if len(got) < 2 else []
        # the new topic read from its start; the commands from where the loop was
        assert sorted(got) == [(commands, b"second"), (reports_b, b"early report")]
        assert await inputs.follow(["dp-a", "dp-b"], no_positions) == set()

    # asking about dp-c's topic did not create it (nothing but enrolment creates topics)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await inputs.follow(["dp-c"], no_positions)
        assert prefix + topics.reports_topic("dp-c") not in await admin.list_topics()
    finally:
        await admin.close()


async def test_with_no_cluster_registered_only_the_fixed_inputs_are_read(
    kafka_bootstrap: str, consumer: AIOKafkaConsumer
) -> None:
    prefix = await create_sandbox(kafka_bootstrap, ["dp-a"])
    inputs = InputPartitions(consumer, prefix)
    no_full_scan(consumer)  # an empty list of names would have asked for every topic
    await inputs.assign({}, [])
    assert {tp.topic for tp in inputs.assigned} == {prefix + t for t in FIXED_INPUTS}
