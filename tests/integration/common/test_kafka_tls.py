"""Kafka over mutual TLS with ACLs, on the local broker's SSL listener
(``ssl.client.auth=required``, StandardAuthorizer, a certificate's CN as principal).

The planes' own certificates (jetbridge.common.tls) and their ACLs
(jetbridge.common.kafka.acls) on a run of the test's own topics: a data plane
publishes its reports on its own topic and the control plane consumes them, as across
the plane boundary in production; the data plane can write nowhere else and read
nothing. A client without a certificate, or one speaking PLAINTEXT to the SSL port,
gets nothing.
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAuthorizationFailedError

from jetbridge.common.events import EventCodec, EventRecord
from jetbridge.common.kafka import ConsumedRecord, EventConsumer, EventPublisher
from jetbridge.common.kafka.acls import plane_acls
from jetbridge.common.kafka.enrol import create_acls, delete_acls
from jetbridge.common.kafka.security import KafkaSecurity
from jetbridge.common.settings import StackSettings
from jetbridge.common.tls import TlsFiles, ensure_certificates
from jetbridge.common.topics import DEAD_LETTER, FAILOVER_EVENTS, FLIGHT_EVENTS, reports_topic
from tests.integration.kafka_tools import consume_until, health_event, wired_consumer

CODEC = EventCodec()
CLUSTER, OTHER = "dp-east", "dp-west"


def security(files: TlsFiles) -> dict[str, Any]:
    return KafkaSecurity(
        security_protocol="SSL",
        ssl_cafile=files.ca_cert,
        ssl_certfile=files.cert,
        ssl_keyfile=files.key,
    ).client_kwargs()


@dataclass(frozen=True)
class Run:
    """A prefix of topics the planes' ACLs were made for, and the planes' identities."""

    bootstrap: str  # the SSL listener
    prefix: str
    control_plane: TlsFiles
    data_plane: TlsFiles

    def topic(self, name: str) -> str:
        return self.prefix + name


@pytest.fixture(scope="module")
async def run(stack: StackSettings, kafka_bootstrap: str) -> AsyncIterator[Run]:
    layout = ensure_certificates(stack.state_dir, [CLUSTER])
    prefix = f"test.acl-{uuid.uuid4().hex[:8]}."
    own = (
        FLIGHT_EVENTS,
        FAILOVER_EVENTS,
        DEAD_LETTER,
        reports_topic(CLUSTER),
        reports_topic(OTHER),
    )
    names = [prefix + t for t in own]
    acls = plane_acls(prefix, [CLUSTER, OTHER])
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)  # PLAINTEXT: a super user
    await admin.start()
    await admin.create_topics([NewTopic(n, 3, 1) for n in names])
    await create_acls(kafka_bootstrap, acls, security={})
    try:
        yield Run(
            stack.kafka_tls_bootstrap_servers,
            prefix,
            layout.control_plane(),
            layout.cluster(CLUSTER),
        )
    finally:
        assert await delete_acls(kafka_bootstrap, acls, security={}) == len(acls)
        await admin.delete_topics(names)
        await admin.close()


async def test_a_data_plane_publishes_and_the_control_plane_consumes(run: Run) -> None:
    topic = run.topic(reports_topic(CLUSTER))
    sent = [health_event(i) for i in range(5)]
    got: list[EventRecord] = []

    async def handler(e: EventRecord, _: ConsumedRecord) -> None:
        got.append(e)

    async with EventPublisher(
        run.bootstrap, client_id="dp", security=security(run.data_plane)
    ) as dp:
        for e in sent:
            await dp.send_raw(topic, e.envelope.aggregate_id.encode(), CODEC.encode(e), [])
    async with EventPublisher(
        run.bootstrap, client_id="cp", security=security(run.control_plane)
    ) as cp:
        consumer = wired_consumer(
            EventConsumer,
            run.bootstrap,
            cp,
            CODEC,
            topic=topic,
            dlq=run.topic(DEAD_LETTER),
            group=f"tls-{topic}",
            handler=handler,
            security=security(run.control_plane),
        )
        await consumer.start()  # joins a group over TLS, as the control plane
        await consume_until(consumer, lambda: len(got) >= len(sent))
    assert sorted(e.event_id for e in got) == sorted(e.event_id for e in sent)


@pytest.mark.parametrize(
    "topic",
    [FAILOVER_EVENTS, FLIGHT_EVENTS, reports_topic(OTHER)],
    ids=["ledger", "dispatcher", "other"],
)
async def test_a_data_plane_cannot_write_anywhere_else(run: Run, topic: str) -> None:
    event = health_event(1)
    async with EventPublisher(
        run.bootstrap, client_id="dp", security=security(run.data_plane)
    ) as dp:
        with pytest.raises(TopicAuthorizationFailedError):
            await dp.send_raw(run.topic(topic), b"k", CODEC.encode(event), [])
    async with EventPublisher(
        run.bootstrap, client_id="cp", security=security(run.control_plane)
    ) as cp:
        await cp.send_raw(run.topic(topic), b"k", CODEC.encode(event), [])  # the owner can


async def test_a_data_plane_cannot_read_even_its_own_reports(run: Run) -> None:
    topic = run.topic(reports_topic(CLUSTER))
    consumer = AIOKafkaConsumer(
        bootstrap_servers=run.bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        request_timeout_ms=5000,
        **security(run.data_plane),
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(3)])
        with pytest.raises(TopicAuthorizationFailedError):
            for _ in range(50):  # the first fetch answers TOPIC_AUTHORIZATION_FAILED
                await consumer.getmany(timeout_ms=200)
    finally:
        await consumer.stop()


async def test_a_client_without_a_certificate_is_refused(run: Run) -> None:
    trusts_only = ssl.create_default_context(cafile=str(run.control_plane.ca_cert))
    producer = AIOKafkaProducer(
        bootstrap_servers=run.bootstrap,
        security_protocol="SSL",
        ssl_context=trusts_only,
        request_timeout_ms=5000,
    )
    with pytest.raises(KafkaError):  # the broker ends the handshake: no client certificate
        await producer.start()
    await producer.stop()


async def test_plaintext_to_the_tls_listener_gets_nowhere(run: Run) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=run.bootstrap, request_timeout_ms=5000)
    with pytest.raises(KafkaConnectionError):
        await producer.start()
    await producer.stop()
