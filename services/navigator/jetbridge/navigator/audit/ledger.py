"""Reading the ledger topic whole: every partition, from the start to its current end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from jetbridge.common.audit import LedgerRecord
from jetbridge.common.kafka.headers import header_value


@dataclass(frozen=True)
class RawRecord:
    ledger: LedgerRecord
    timestamp_ms: int


async def read_ledger(bootstrap: str, topic: str, batch: int = 5000) -> AsyncIterator[RawRecord]:
    """Records partition by partition, each in offset order, up to the end seen at start."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = sorted(consumer.partitions_for_topic(topic) or set())
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = sorted(consumer.partitions_for_topic(topic) or set())
        if not partitions:
            raise LookupError(f"no topic {topic!r} on {bootstrap}")
        tps = [TopicPartition(topic, number) for number in partitions]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        for tp in tps:  # one partition at a time keeps each in offset order
            if ends[tp] == 0:
                continue
            consumer.pause(*[other for other in tps if other != tp])
            consumer.resume(tp)
            while await consumer.position(tp) < ends[tp]:
                fetched = await consumer.getmany(tp, timeout_ms=1000, max_records=batch)
                for record in fetched.get(tp, []):
                    if record.offset < ends[tp]:
                        yield _raw(tp.partition, record)
    finally:
        await consumer.stop()


def _raw(partition: int, record: ConsumerRecord) -> RawRecord:
    return RawRecord(
        LedgerRecord(
            partition=partition,
            offset=record.offset,
            key=(record.key or b"").decode(errors="replace"),
            event_id=header_value(record.headers, "event_id") or "",
            value=record.value or b"",
            headers=tuple(record.headers or ()),
        ),
        record.timestamp,
    )
