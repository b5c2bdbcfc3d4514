"""Replay speed: the read model rebuilt from a ledger of >= 100,000 events, one core.

The ledger comes from the in-process decision loop of ``bench/navigator/bench_navigator.py``
(1,000 Deployments, 3 failovers there and back: ~181,000 domain events), encoded as the
Navigator's relay publishes them and split over 12 partitions by key. Measured:

* in memory, on one core (the process is pinned to CPU 0): ``replay_records`` exactly
  as ``jetbridge audit replay`` runs it (decode + fold + rows of all six tables), and
  its two halves alone (decode; fold + rows); CPU seconds, best and median of N runs;
* end to end: ``jetbridge audit replay --at now --into SCHEMA`` as a real process on
  the stack's Kafka and PostgreSQL 15 (read the topic whole, fold, write the rows).

    .venv/bin/python -m bench.audit.bench_replay [--deployments 1000] [--rounds 3] [--runs 5]

Needs the local stack (.state/stack.env) for the end-to-end part. Cleans up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.navigator.bench_navigator import run as run_navigator
from jetbridge.common.audit import LedgerRecord
from jetbridge.common.events import EventCodec, default_registry
from jetbridge.common.kafka import EventPublisher
from jetbridge.common.settings import load_stack_settings
from jetbridge.navigator.audit.ledger import RawRecord
from jetbridge.navigator.audit.replay import replay_records
from jetbridge.navigator.projections.fold import LedgerDecoder, LedgerFold

PARTITIONS = 12
T0 = 1_700_000_000_000
ROOT = Path(__file__).resolve().parents[2]


def ledger(encoded: list[tuple[str, str, bytes]]) -> list[RawRecord]:
    """Records as read from a 12-partition topic: partition by key, offsets in order."""
    offsets = [0] * PARTITIONS
    raws = []
    for i, (key, event_id, value) in enumerate(encoded):
        p = zlib.crc32(key.encode()) % PARTITIONS
        raws.append(RawRecord(LedgerRecord(p, offsets[p], key, event_id, value, ()), T0 + i))
        offsets[p] += 1
    raws.sort(key=lambda r: (r.ledger.partition, r.ledger.offset))
    return raws


def cpu(fn: Any, runs: int) -> dict[str, float]:
    seconds = []
    for _ in range(runs):
        started = time.process_time()
        fn()
        seconds.append(time.process_time() - started)
    return {
        "best_cpu_s": round(min(seconds), 3),
        "median_cpu_s": round(statistics.median(seconds), 3),
    }


def in_memory(raws: list[RawRecord], runs: int) -> dict[str, Any]:
    n = len(raws)
    values = [r.ledger.value for r in raws]
    whole = cpu(lambda: replay_records(raws, 2**62, "ledger"), runs)
    decoder = LedgerDecoder(default_registry())
    decode = cpu(lambda: [decoder.decode(v) for v in values], runs)
    decoded = [decoder.decode(v) for v in values]

    def fold() -> None:
        f = LedgerFold()
        for i, d in enumerate(decoded):
            if d is not None:
                f.fold(d[0], d[1], ("ledger", 0, i))
        f.take_rows()

    folding = cpu(fold, runs)
    result = replay_records(raws, 2**62, "ledger")
    rate = {k.replace("cpu_s", "events_per_cpu_s"): round(n / v) for k, v in whole.items()}
    return {
        "events": n,
        "applied": result.fold.applied,
        "rows": {t: len(rs) for t, rs in result.tables.items()},
        "replay": whole | rate,
        "decode_only": decode | {"best_events_per_cpu_s": round(n / decode["best_cpu_s"])},
        "fold_and_rows_only": folding | {"best_events_per_cpu_s": round(n / folding["best_cpu_s"])},
    }


async def end_to_end(encoded: list[tuple[str, str, bytes]]) -> dict[str, Any]:
    stack = load_stack_settings()
    prefix = f"benchaudit{uuid.uuid4().hex[:8]}."
    topic = prefix + "jetbridge.failover.events"
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    name = f"bench_audit_{uuid.uuid4().hex[:8]}"
    server = await asyncpg.connect(stack.postgres_dsn)
    await server.execute(f'CREATE DATABASE "{name}"')
    dsn = urlunsplit(urlsplit(stack.postgres_dsn)._replace(path=f"/{name}"))
    try:
        async with EventPublisher(stack.kafka_bootstrap_servers, client_id="bench") as publisher:
            for i in range(0, len(encoded), 5000):
                await publisher.send_raw_many(
                    (topic, key.encode(), value, []) for key, _, value in encoded[i : i + 5000]
                )
        at = datetime.now(UTC).isoformat()
        command = [
            sys.executable,
            "-c",
            "from jetbridge.console.entrypoints.cli.main import main; main()",
        ]
        args = ["audit", "replay", "--topic", topic, "--at", at, "--into", "replayed"]
        args += ["--dsn", "env:BENCH_REPLAY_DSN"]  # a password is refused on the command line
        started = time.perf_counter()
        done = await asyncio.to_thread(
            subprocess.run,
            [*command, *args],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT), "BENCH_REPLAY_DSN": dsn},
        )
        wall = time.perf_counter() - started
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        return {
            "events": report["events"],
            "wall_s": round(wall, 2),
            "events_per_s": round(report["events"] / wall),
            "tables": {t: v["rows"] for t, v in report["checksums"].items()},
        }
    finally:
        await server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await server.close()
        await admin.delete_topics([topic])
        await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deployments", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-end-to-end", action="store_true")
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})
    made = await run_navigator(args.deployments, False, True, args.rounds)
    codec = EventCodec()
    encoded = [(e.envelope.aggregate_id, e.event_id, codec.encode(e)) for e in made["log"].events]
    raws = ledger(encoded)
    print(
        json.dumps(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
                "python": platform.python_version(),
                "load_average_before": os.getloadavg(),
                "in_memory_one_core": in_memory(raws, args.runs),
                "load_average_after": os.getloadavg(),
            },
            indent=2,
        )
    )
    if not args.skip_end_to_end:
        print(json.dumps({"end_to_end": await end_to_end(encoded)}, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
