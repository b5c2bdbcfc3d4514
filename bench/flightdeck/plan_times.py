"""How long PostgreSQL takes to PLAN each Flightdeck statement as a custom plan.

Claims are planned on every call (``jetbridge.flightdeck.postgresql._CLAIM_SETTINGS``);
this is what that costs, and what the same would cost for the other statements. On a
fresh database of the stack's PostgreSQL 15 (dropped after): each statement prepared
with ``PREPARE``, then ``EXPLAIN (ANALYZE, SUMMARY) EXECUTE`` 30 times under
``plan_cache_mode = force_custom_plan`` with empty arguments; prints the median of the
reported planning time.

    set -a; source .state/stack.env; set +a
    .venv/bin/python bench/flightdeck/plan_times.py
"""

from __future__ import annotations

import asyncio
import os
import statistics

import asyncpg

from jetbridge.flightdeck.migrator import migrate_postgresql
from jetbridge.flightdeck.queries import load_queries

STATEMENTS = (
    "claim",
    "record_many",
    "complete_many",
    "admit",
    "clear_many",
    "renew",
    "report",
    "outbox_pending",
    "mark_published",
)
DATABASE = "jetbridge_bench_plan_times"


def _empty(type_name: str) -> str:
    """An argument of the parameter's type: an empty array, or NULL."""
    return f"'{{}}'::{type_name[1:]}[]" if type_name.startswith("_") else f"NULL::{type_name}"


async def main() -> None:
    dsn = os.environ["JETBRIDGE_POSTGRES_DSN"]
    queries = load_queries("postgresql")
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{DATABASE}"')
    try:
        conn = await asyncpg.connect(dsn, database=DATABASE)
        try:
            await migrate_postgresql(conn)
            await conn.execute("SET plan_cache_mode = force_custom_plan")
            for name in STATEMENTS:
                sql = queries[name].strip().removesuffix(";")
                types = [p.name for p in (await conn.prepare(sql)).get_parameters()]
                await conn.execute(f"PREPARE p_{name} AS {sql}")
                args = ", ".join(_empty(t) for t in types)
                planning = []
                for _ in range(30):
                    rows = await conn.fetch(f"EXPLAIN (ANALYZE, SUMMARY) EXECUTE p_{name}({args})")
                    planning += [
                        float(r[0].split(":")[1].split()[0])
                        for r in rows
                        if r[0].startswith("Planning Time")
                    ]
                print(f"{name:16s} custom plan: median {statistics.median(planning):.3f} ms")
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
