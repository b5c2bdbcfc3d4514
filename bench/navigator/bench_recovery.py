"""How long a Navigator takes to start: recovery folds its whole event store.

Why: the store keeps every event (auditors replay it) and the Navigator rebuilds its
fleet from all of it before it decides anything (``NavigatorService.recover``); its
``/readyz`` fails until then, and commands wait in Kafka. Nothing bounds that yet (no
snapshot), so this measures how it grows.

One run: the in-process decision loop of ``bench_navigator.py`` makes a realistic store
(1,000 Deployments by default, ``rounds`` Controlled failovers east -> west each with a
Forced failback), which is appended, in the batches the Navigator stored it in, to a
fresh database on the stack's PostgreSQL (hash chain on, as in production). Then a new
``NavigatorService`` on the real ``PostgresEventStore`` recovers from it, as a started
Navigator does: measured are its wall time, this process's CPU and the CPU of the
PostgreSQL backends serving the database (from /proc: the server must run on this
machine). The recovered fleet must equal the one that decided. Then it takes a
snapshot (``service_layer/snapshots.py``) and times a third Navigator starting from it,
which must hold the same fleet.

    PYTHONPATH=. .venv/bin/python bench/navigator/bench_recovery.py --rounds 1 3 --out F.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.navigator.bench_event_store import backend_cpu_s, scratch_database
from bench.navigator.bench_navigator import run as decide
from jetbridge.common.events import default_registry
from jetbridge.common.eventstore import PostgresEventStore, migrate_event_store
from jetbridge.navigator.adapters.event_mapping import EventMapper
from jetbridge.navigator.service_layer.navigator import NavigatorService

APPEND_BATCH = 1000  # events per append when loading the store (as the loop stored them)


async def one(admin_dsn: str, deployments: int, rounds: int) -> dict[str, Any]:
    made = await decide(deployments, False, True, rounds)
    events = made["log"].events
    decided = made["log"]
    async with scratch_database(admin_dsn, "bench_recovery", pool_size=2) as db:
        pool = db.pool
        async with pool.acquire() as conn:
            await migrate_event_store(conn)
        store = PostgresEventStore(pool, writer="bench", holder="bench", chain_key=b"k" * 32)
        await store.take_writer_epoch()
        loading = time.perf_counter()
        for start in range(0, len(events), APPEND_BATCH):
            await store.append(events[start : start + APPEND_BATCH])
        load_s = time.perf_counter() - loading
        size = await db.admin.fetchval("SELECT pg_database_size($1)", db.name)
        pids = await db.backend_pids()
        mapper = EventMapper(default_registry(), producer="bench")
        service = NavigatorService(store, mapper, lambda: 0)
        cpu, pg = time.process_time(), backend_cpu_s(pids)
        started = time.perf_counter()
        folded = await service.recover()
        wall = time.perf_counter() - started
        cpu, pg = time.process_time() - cpu, backend_cpu_s(pids) - pg
        reference = NavigatorService(decided, mapper, lambda: 0)
        await reference.recover()
        assert service.fleet == reference.fleet, "the recovered fleet differs"
        # The same start from a snapshot taken at the end (service_layer/snapshots.py).
        taking = time.perf_counter()
        position = await service.take_snapshot()
        snapshot_s = time.perf_counter() - taking
        async with pool.acquire() as conn:
            snapshot_bytes = await conn.fetchval(
                'SELECT length("state") FROM "jetbridge_snapshots" WHERE "position" = $1', position
            )
        resumed = NavigatorService(store, mapper, lambda: 0)
        cpu_snap, started = time.process_time(), time.perf_counter()
        await resumed.recover()
        resumed_s, cpu_snap = time.perf_counter() - started, time.process_time() - cpu_snap
        assert resumed.recovered_from == position and resumed.fleet == reference.fleet
    return {
        "deployments": deployments,
        "failovers": 2 * rounds,
        "events_stored": len(events),
        "domain_events_folded": folded,
        "store_mib": round(size / 2**20, 1),
        "load_s": round(load_s, 1),
        "recover_s": round(wall, 2),
        "recover_cpu_s": round(cpu, 2),
        "postgres_cpu_s": round(pg, 2),
        "events_per_s": round(len(events) / wall),
        "snapshot_mib": round(snapshot_bytes / 2**20, 1),
        "snapshot_take_s": round(snapshot_s, 2),
        "recover_from_snapshot_s": round(resumed_s, 2),
        "recover_from_snapshot_cpu_s": round(cpu_snap, 2),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deployments", type=int, default=1000)
    parser.add_argument("--rounds", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--label", default="", help="what ran (an A/B's code, say)")
    args = parser.parse_args()
    admin_dsn = os.environ["JETBRIDGE_POSTGRES_DSN"]
    runs = [await one(admin_dsn, args.deployments, rounds) for rounds in args.rounds]
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "label": args.label,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
        "runs": runs,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    asyncio.run(main())
