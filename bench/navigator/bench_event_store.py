"""The Navigator's persistence alone: appends of a 1,000-Deployment failover's events
and their relay, on the stack's real PostgreSQL, with PostgreSQL's CPU measured.

Why: end to end, the host's speed moves a run's figures by a fifth, more than a change
to the event store can (docs/benchmarks.md). This isolates it. Each run gets a fresh
database; ``events`` events are appended ``per_append`` at a time as the Navigator
appends them (every one copied to the ledger topic, a third of them its own decisions,
a few for another topic, hash chain on), while the relay runs beside, publishing to a
sender that only reads the records (Kafka's share is the same either way, and measured
elsewhere). Measured: the wall time of the appends and until the relay has published
everything, this process's CPU, and the CPU of PostgreSQL's backends serving the
database (from /proc: the server must run on this machine).

    .venv/bin/python bench/navigator/bench_event_store.py --runs 3 --out F.json

It runs against the code it imports: from a worktree of an older commit (its
``PYTHONPATH`` first) it measures that commit. For the commits before 2026-12-07, whose
store wrote an outbox table, it uses their ``OutboxRelay`` (the shim below).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from jetbridge.common.events import new_event
from jetbridge.common.eventstore import PostgresEventStore, migrate_event_store

try:  # the store is its own outbox (2026-12-07 on)
    from jetbridge.common.eventstore import EventStoreRelay, count_unpublished

    VERSION = "event store as outbox"
except ImportError:  # before: an outbox table beside the store
    from jetbridge.common.outbox import OutboxRelay as EventStoreRelay  # type: ignore[no-redef]
    from jetbridge.common.outbox import migrate_outbox
    from jetbridge.common.outbox.postgres import count_pending as count_unpublished

    VERSION = "outbox table"

TICKS = float(os.sysconf("SC_CLK_TCK"))
LEDGER = "jetbridge.cluster.events"  # the events' own topic: decisions go once, as most do


def backend_cpu_s(pids: Iterable[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


class NullSender:
    """Reads every record the relay hands it, as a producer would, and sends nowhere."""

    def __init__(self) -> None:
        self.records = 0

    async def send_raw_many(self, records: Iterable[Any]) -> None:
        self.records += sum(1 for _ in records)


def _event(i: int) -> Any:
    cluster = f"c{i % 1000}"
    return new_event(
        "ClusterHealthChanged",
        {"cluster_id": cluster, "previous": "HEALTHY", "current": "DEGRADED", "reason": str(i)},
        aggregate_type="Cluster",
        aggregate_id=cluster,
        producer="bench",
        schema_version=1,
    )


@dataclass(frozen=True)
class Scratch:
    """A database made for one run (``scratch_database``)."""

    name: str
    dsn: str
    pool: asyncpg.Pool
    admin: asyncpg.Connection  # on the server's admin database: sizes, sessions

    async def backend_pids(self) -> list[int]:
        """The server processes serving this database now (for ``backend_cpu_s``)."""
        query = "SELECT pid FROM pg_stat_activity WHERE datname = $1"
        return [r["pid"] for r in await self.admin.fetch(query, self.name)]


@contextlib.asynccontextmanager
async def scratch_database(admin_dsn: str, prefix: str, pool_size: int) -> AsyncIterator[Scratch]:
    """A fresh database beside ``admin_dsn``'s and a pool on it; dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = admin_dsn.rsplit("/", 1)[0] + f"/{name}"
    pool = await asyncpg.create_pool(dsn, min_size=pool_size, max_size=pool_size)
    try:
        yield Scratch(name, dsn, pool, admin)
    finally:
        await pool.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def one_run(admin_dsn: str, events: int, per_append: int) -> dict[str, Any]:
    async with scratch_database(admin_dsn, "bench_store", pool_size=4) as db:
        pool = db.pool
        async with pool.acquire() as conn:
            if VERSION == "outbox table":
                await migrate_outbox(conn)
            await migrate_event_store(conn)
        store = PostgresEventStore(pool, writer="bench", holder="bench", chain_key=b"k" * 32)
        await store.take_writer_epoch()
        sender = NullSender()
        options = {"ledger_topic": LEDGER} if VERSION == "event store as outbox" else {}
        relay = EventStoreRelay(db.dsn, sender, poll_interval_s=0.5, **options)
        relaying = asyncio.create_task(relay.run())
        batches = [
            [_event(i) for i in range(start, min(events, start + per_append))]
            for start in range(0, events, per_append)
        ]
        await asyncio.sleep(0.5)  # the relay's session is open: its backend is counted
        pids = await db.backend_pids()
        cpu_before, pg_before = time.process_time(), backend_cpu_s(pids)
        started = time.perf_counter()
        for n, batch in enumerate(batches):
            decided = [e for i, e in enumerate(batch) if i % 3 == 0]
            await store.append(
                batch,
                publish=decided,
                positions={("in", 0): n},
                consumer="bench",
                ledger_topic=LEDGER,
            )
        appended = time.perf_counter() - started
        async with pool.acquire() as conn:
            while await count_unpublished(conn):  # noqa: ASYNC110 - polls the database
                await asyncio.sleep(0.01)
        drained = time.perf_counter() - started
        cpu = time.process_time() - cpu_before
        pg = backend_cpu_s(pids) - pg_before
        await relay.stop()
        await asyncio.wait_for(relaying, 10)
        return {
            "version": VERSION,
            "events": events,
            "per_append": per_append,
            "appends_s": round(appended, 3),
            "all_published_s": round(drained, 3),
            "records_relayed": sender.records,
            "client_cpu_s": round(cpu, 3),
            "postgres_cpu_s": round(pg, 3),
            "postgres_us_per_event": round(1e6 * pg / events, 1),
        }


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    runs = []
    for _ in range(args.runs):
        result = await one_run(args.dsn, args.events, args.per_append)
        print(json.dumps(result))
        runs.append(result)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default=os.environ.get("JETBRIDGE_POSTGRES_DSN"))
    parser.add_argument("--events", type=int, default=28_000, help="a 1,000 Forced failover")
    parser.add_argument("--per-append", type=int, default=40)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    runs = asyncio.run(main_async(args))
    if args.out:
        machine = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()}
        args.out.write_text(json.dumps({"machine": machine, "runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
