"""The Navigator's input partitions on the real broker: a cluster registered after the
start has its reports topic followed, asked about by name, without losing the place
reached on the others."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from jetbridge.common import topics
from jetbridge.common.kafka import EventPublisher
from jetbridge.common.kafka.enrol import create_topics, reports_topics
from jetbridge.navigator.adapters.inputs import InputPartitions
from tests.integration.kafka_tools import create_sandbox


@pytest.fixture
async def consumer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaConsumer]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    yield consumer
    await consumer.stop()


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
    prefix = await create_sandbox(kafka_bootstrap, ["dp-a"])
    commands = prefix + topics.COMMANDS
    inputs = InputPartitions(consumer, prefix)
    async with EventPublisher(kafka_bootstrap, client_id="test-inputs") as publisher:
        await inputs.assign({})

        async def every_topic() -> None:
            raise AssertionError("follow fetched the metadata of every topic on the broker")

        consumer._client.fetch_all_metadata = every_topic  # the start's scan is done
        assert prefix + topics.reports_topic("dp-a") in {tp.topic for tp in inputs.assigned}
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
