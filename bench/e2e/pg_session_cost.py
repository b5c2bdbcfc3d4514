"""What a new PostgreSQL session costs the server and the client, against a query on a
kept one: why a Controlled failover (one drain session per Deployment, in that
Deployment's own metadata database) costs PostgreSQL more than a Forced one.

    .venv/bin/python bench/e2e/pg_session_cost.py [--sessions 200]

DSN from ``JETBRIDGE_POSTGRES_DSN`` (``.state/stack.env``). Makes N throwaway databases
with an empty ``task_instance``, opens one session in each and counts, three rounds
(the first after the tables were made), then the same count N times on one kept
session, then N sessions on the ``postgres`` database; drops the databases. The
server's CPU is the stack's PostgreSQL 15 process tree (``stack_cpu.py``), the
client's this process's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack_cpu import StackCpuMeter

ROOT = Path(__file__).resolve().parents[2]
COUNT = "SELECT state, count(*) FROM task_instance GROUP BY state"


async def measured(label: str, n: int, work: Callable[[], Awaitable[None]]) -> None:
    meter = StackCpuMeter(ROOT / ".state")
    before, client, wall = meter.sample(), time.process_time(), time.monotonic()
    await work()
    server = StackCpuMeter.delta(before, meter.sample())["postgres15"]
    print(
        f"{label}: server {1000 * server / n:.2f} ms, client "
        f"{1000 * (time.process_time() - client) / n:.2f} ms, wall "
        f"{1000 * (time.monotonic() - wall) / n:.2f} ms each"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200)
    n = parser.parse_args().sessions
    dsn = os.environ["JETBRIDGE_POSTGRES_DSN"]
    names = [f"session_cost_{i}" for i in range(n)]
    admin = await asyncpg.connect(dsn)
    try:
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            await admin.execute(f'CREATE DATABASE "{name}"')
            conn = await asyncpg.connect(dsn, database=name)
            await conn.execute("CREATE TABLE task_instance (id text, state text)")
            await conn.close()

        async def one_session_each() -> None:
            for name in names:
                conn = await asyncpg.connect(dsn, database=name)
                await conn.fetch(COUNT)
                await conn.close()

        for label in ("a new session and a count (first)", "again", "again"):
            await measured(label, n, one_session_each)
        kept = await asyncpg.connect(dsn, database=names[0])

        async def counts_on_kept() -> None:
            for _ in range(n):
                await kept.fetch(COUNT)

        await measured("a count on a kept session", n, counts_on_kept)
        await kept.close()

        async def sessions_on_postgres() -> None:
            for _ in range(n):
                await (await asyncpg.connect(dsn)).close()

        await measured("a new session on the postgres database", n, sessions_on_postgres)
    finally:
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
