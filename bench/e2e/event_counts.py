"""How many records one kept run put on each of its topics, by event type.

Why: each record costs an encode, a broker write and one decode per consumer group
that reads its topic, so records per Deployment times readers is the floor of what a
failover costs in the services (docs/benchmarks.md, "What one Deployment costs").
Run a bench with ``--keep`` (its topics stay), then, with the run's prefix from its log
(``==> run e2e059b09: ...``):

    .venv/bin/python bench/e2e/event_counts.py e2e059b09 --per 100
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition


async def count(bootstrap: str, prefix: str) -> collections.Counter[tuple[str, str]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        topics = sorted(t for t in await consumer.topics() if t.startswith(prefix))
        await consumer._client.force_metadata_update()  # partitions of the topics just listed
        partitions = [
            TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        left = {tp for tp in partitions if ends[tp] > 0}
        counts: collections.Counter[tuple[str, str]] = collections.Counter()
        while left:
            batch = await consumer.getmany(timeout_ms=5000)
            if not batch:
                raise RuntimeError(f"no records for 5 s; {len(left)} partitions not read to end")
            for tp, records in batch.items():
                for record in records:
                    event_type = dict(record.headers or ()).get("event_type", b"?").decode()
                    counts[(tp.topic.removeprefix(prefix), event_type)] += 1
                if records and records[-1].offset + 1 >= ends[tp]:
                    left.discard(tp)
        return counts
    finally:
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="the run's topic prefix, e.g. e2e059b09")
    parser.add_argument("--per", type=int, default=1, help="divide by (the Deployments)")
    args = parser.parse_args()
    bootstrap = os.environ["JETBRIDGE_KAFKA_BOOTSTRAP_SERVERS"]
    counts = asyncio.run(count(bootstrap, args.run.rstrip(".") + "."))
    by_topic: collections.Counter[str] = collections.Counter()
    for (topic, event_type), n in sorted(counts.items()):
        by_topic[topic] += n
        print(f"{n:8d} {n / args.per:8.2f}  {topic:32s} {event_type}")
    for topic, n in sorted(by_topic.items()):
        print(f"{n:8d} {n / args.per:8.2f}  {topic:32s} (all)")


if __name__ == "__main__":
    main()
