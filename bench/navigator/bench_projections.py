"""Rebuild speed of the Navigator's read model: the ledger replayed into PostgreSQL.

The ledger comes from the in-process decision loop of ``bench_navigator.py`` (1,000
Deployments, failovers there and back), published to a private 12-partition topic on
the local stack's broker, keyed by aggregate id as the Navigator's relay does. Then:

* in memory: decode + fold + row building only (no Kafka, no SQL), one core;
* the real ``rebuild`` (aiokafka consumer -> fold -> batched upserts into a fresh
  database on the stack's PostgreSQL 15), end to end.

    .venv/bin/python bench/navigator/bench_projections.py [--deployments 1000] [--rounds 3]

Needs the local stack (.state/stack.env). Cleans up its topic and database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.navigator.bench_navigator import run as run_navigator
from jetbridge.common import topics
from jetbridge.common.events import EventCodec
from jetbridge.common.kafka import EventPublisher
from jetbridge.common.settings import load_stack_settings
from jetbridge.navigator.projections.fold import LedgerDecoder, LedgerFold
from jetbridge.navigator.projections.projector import Projector
from jetbridge.navigator.projections.store import ReadModelStore


def in_memory(encoded: list[tuple[str, bytes]]) -> dict[str, float]:
    decoder, fold = LedgerDecoder(EventCodec().registry), LedgerFold()
    started = time.process_time()
    rows = 0
    for i, (_, data) in enumerate(encoded):
        decoded = decoder.decode(data)
        if decoded is not None:
            fold.fold(decoded[0], decoded[1], ("ledger", 0, i))
        if i % 20_000 == 19_999:
            rows += sum(len(r) for r in fold.take_rows().values())
    rows += sum(len(r) for r in fold.take_rows().values())
    cpu = time.process_time() - started
    return {
        "events": len(encoded),
        "cpu_s": round(cpu, 2),
        "events_per_cpu_s": round(len(encoded) / cpu),
        "rows": rows,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deployments", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    stack = load_stack_settings()
    made = await run_navigator(args.deployments, False, True, args.rounds)
    codec = EventCodec()
    encoded = [(e.envelope.aggregate_id, codec.encode(e)) for e in made["log"].events]
    print(json.dumps({"ledger_events": len(encoded), "in_memory": in_memory(encoded)}))

    prefix = f"bench{uuid.uuid4().hex[:8]}."
    topic = prefix + topics.FAILOVER_EVENTS
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 12, 1)])
    name = f"bench_projections_{uuid.uuid4().hex[:8]}"
    server = await asyncpg.connect(stack.postgres_dsn)
    await server.execute(f'CREATE DATABASE "{name}"')
    dsn = urlunsplit(urlsplit(stack.postgres_dsn)._replace(path=f"/{name}"))
    try:
        publisher = EventPublisher(stack.kafka_bootstrap_servers, client_id="bench")
        async with publisher:
            for i in range(0, len(encoded), 5000):
                await publisher.send_raw_many(
                    (topic, key.encode(), value, []) for key, value in encoded[i : i + 5000]
                )
        store = await ReadModelStore.open(dsn, "rebuilt")
        try:
            cpu = time.process_time()
            report = await Projector(
                store, stack.kafka_bootstrap_servers, topic, batch=20_000
            ).rebuild()
            cpu = time.process_time() - cpu
        finally:
            await store.close()
        print(
            json.dumps(
                {
                    "rebuild_events": report.events,
                    "applied": report.applied,
                    "rows_written": report.rows,
                    "wall_s": round(report.seconds, 2),
                    "events_per_s": round(report.events_per_s),
                    "process_cpu_s": round(cpu, 2),
                    "tables": {t: n for t, (n, _) in report.checksums.items()},
                }
            )
        )
    finally:
        await server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await server.close()
        await admin.delete_topics([topic])
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
