"""What the agent's queue-depth count costs as finished flights pile up, with and
without Flightdeck's index of active flights (migration 0005).

The agent runs ``DEPTH_SQL`` every two seconds per data plane. On a fresh database of
the stack's PostgreSQL 15 (dropped after): N finished flights (a 600-byte plan each,
as ``tests/integration/agent/test_queue_depth_plan.py`` makes them) and 40 active
ones, ``VACUUM ANALYZE``, then the count timed 50 times on one connection; then the
same after ``DROP INDEX dp_flights_active_idx``. Prints the median client-side time
of a count and the shared buffers it touched.

    set -a; source .state/stack.env; set +a
    .venv/bin/python bench/flightdeck/depth_count.py --finished 5000 50000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import time

import asyncpg

from jetbridge.agent.adapters.metrics import DEPTH_SQL
from jetbridge.flightdeck.migrator import migrate_postgresql

DATABASE = "jetbridge_bench_depth_count"
_ADD = (
    'INSERT INTO "dp_flights" ("flight_id", "mission_id", "request_id", "deployment_id", '
    '"side", "mode", "plan", "fencing_epoch", "state") '
    "SELECT $1 || g, 'm', 'r', 'd', 'DESTINATION', 'FORCED', "
    "jsonb_build_object('pad', repeat('x', 600)), 1, $3 FROM generate_series(1, $2) g"
)


async def _measure(conn: asyncpg.Connection, runs: int) -> tuple[float, int]:
    """Median ms of a count, and the shared buffers one count touches."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await conn.fetch(DEPTH_SQL)
        times.append((time.perf_counter() - start) * 1000)
    plan = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) {DEPTH_SQL}")
    hits = re.search(r"Buffers: shared hit=(\d+)", "\n".join(row[0] for row in plan))
    return statistics.median(times), int(hits.group(1)) if hits else -1


async def _one(admin_dsn: str, finished: int, runs: int) -> None:
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{DATABASE}"')
    dsn = admin_dsn.rsplit("/", 1)[0] + "/" + DATABASE
    conn = await asyncpg.connect(dsn)
    try:
        await migrate_postgresql(conn)
        await conn.execute(_ADD, "done-", finished, "SUCCEEDED")
        await conn.execute(_ADD, "queued-", 30, "QUEUED")
        await conn.execute(_ADD, "running-", 10, "RUNNING")
        await conn.execute('VACUUM ANALYZE "dp_flights"')
        with_index = await _measure(conn, runs)
        await conn.execute('DROP INDEX "dp_flights_active_idx"')
        without = await _measure(conn, runs)
        print(
            f"{finished:>7} finished + 40 active: with the index {with_index[0]:.3f} ms "
            f"({with_index[1]} buffers), without {without[0]:.3f} ms ({without[1]} buffers)"
        )
    finally:
        await conn.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await admin.close()


async def main(args: argparse.Namespace) -> None:
    for finished in args.finished:
        await _one(os.environ["JETBRIDGE_POSTGRES_DSN"], finished, args.runs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--finished", type=int, nargs="+", default=[5000, 50000])
    parser.add_argument("--runs", type=int, default=50)
    asyncio.run(main(parser.parse_args()))
