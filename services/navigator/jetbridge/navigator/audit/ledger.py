"""Reading the ledger topic whole: every partition, from the start to its current end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord

from jetbridge.common.audit import LedgerRecord
from jetbridge.common.kafka.headers import header_value
from jetbridge.common.kafka.security import kafka_security


@dataclass(frozen=True)
class RawRecord:
    ledger: LedgerRecord
    timestamp_ms: int


async def read_ledger(bootstrap: str, topic: str, batch: int = 5000) -> AsyncIterator[RawRecord]:
    """Records partition by partition, each in offset order, up to the end seen at start."""
    # "earliest": with the default "latest", the reset that assign() starts can race
    # seek_to_beginning() and win, and the read would start at the end.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **kafka_security(),
    )
    await consumer.start()
    try:
        partitions = await _partitions_with_leaders(bootstrap, topic)
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


async def _partitions_with_leaders(bootstrap: str, topic: str, timeout_s: float = 15) -> list[int]:
    """Every partition of ``topic``, once each has a leader (a new topic needs a moment)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_security())
    await admin.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            [described] = await admin.describe_topics([topic])
            partitions = described["partitions"]
            if (
                described["error_code"] == 0
                and partitions
                and all(p["leader"] >= 0 for p in partitions)
            ):
                return sorted(p["partition"] for p in partitions)
            if asyncio.get_running_loop().time() > deadline:
                raise LookupError(f"topic {topic!r} has no leader for every partition")
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
