"""Kafka over mutual TLS, on the local broker's SSL listener (``ssl.client.auth=required``).

The planes' own certificates (jetbridge.common.tls): the control plane publishes, a
data plane consumes, as across the plane boundary in production. A client without a
certificate, or one speaking PLAINTEXT to the SSL port, gets nothing.
"""

from __future__ import annotations

import ssl
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError

from jetbridge.common.events import EventCodec, EventRecord
from jetbridge.common.kafka import ConsumedRecord, EventConsumer, EventPublisher
from jetbridge.common.kafka.security import KafkaSecurity
from jetbridge.common.settings import StackSettings
from jetbridge.common.tls import TlsFiles, ensure_certificates
from tests.integration.kafka_tools import consume_until, create_topic, health_event, wired_consumer

CODEC = EventCodec()


def security(files: TlsFiles) -> dict[str, Any]:
    return KafkaSecurity(
        security_protocol="SSL",
        ssl_cafile=files.ca_cert,
        ssl_certfile=files.cert,
        ssl_keyfile=files.key,
    ).client_kwargs()


@pytest.fixture(scope="module")
def tls(stack: StackSettings) -> tuple[str, TlsFiles, TlsFiles]:
    layout = ensure_certificates(stack.state_dir, ["dp-east"])
    return stack.kafka_tls_bootstrap_servers, layout.control_plane(), layout.cluster("dp-east")


async def test_the_planes_publish_and_consume_over_mutual_tls(
    kafka_bootstrap: str, tls: tuple[str, TlsFiles, TlsFiles]
) -> None:
    bootstrap, control_plane, data_plane = tls
    topic = await create_topic(kafka_bootstrap, "tls")
    dlq = await create_topic(kafka_bootstrap, "tls-dlq", partitions=1)
    sent = [health_event(i) for i in range(5)]
    got: list[EventRecord] = []

    async def handler(e: EventRecord, _: ConsumedRecord) -> None:
        got.append(e)

    async with EventPublisher(
        bootstrap, client_id="cp", security=security(control_plane)
    ) as publisher:
        for e in sent:
            await publisher.send_raw(topic, e.envelope.aggregate_id.encode(), CODEC.encode(e), [])
        consumer = wired_consumer(
            EventConsumer,
            bootstrap,
            publisher,
            CODEC,
            topic=topic,
            dlq=dlq,
            group=f"tls-{topic}",
            handler=handler,
            security=security(data_plane),
        )
        await consumer.start()  # joins the group over TLS, as the data plane's identity
        await consume_until(consumer, lambda: len(got) >= len(sent))
    assert sorted(e.event_id for e in got) == sorted(e.event_id for e in sent)


async def test_a_client_without_a_certificate_is_refused(
    tls: tuple[str, TlsFiles, TlsFiles],
) -> None:
    bootstrap, control_plane, _ = tls
    trusts_only = ssl.create_default_context(cafile=str(control_plane.ca_cert))
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        security_protocol="SSL",
        ssl_context=trusts_only,
        request_timeout_ms=5000,
    )
    with pytest.raises(KafkaError):  # the broker ends the handshake: no client certificate
        await producer.start()
    await producer.stop()


async def test_plaintext_to_the_tls_listener_gets_nowhere(
    tls: tuple[str, TlsFiles, TlsFiles],
) -> None:
    bootstrap, _, _ = tls
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    with pytest.raises(KafkaConnectionError):
        await producer.start()
    await producer.stop()
