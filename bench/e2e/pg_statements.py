"""Which statements PostgreSQL spent its time on, from ``pg_stat_statements``.

How docs/benchmarks.md's 2026-12-03 figures were taken: load the extension into the
stack's PostgreSQL 15 (``ALTER SYSTEM SET shared_preload_libraries =
'pg_stat_statements'``, restart, ``CREATE EXTENSION pg_stat_statements``), start a
``bench_e2e.py`` run, ``reset`` when its log says "(timed)", ``show`` when it ends
(it also prints how many sessions and transactions the server counted since the reset).
Undo with ``DROP EXTENSION``, ``ALTER SYSTEM RESET shared_preload_libraries`` and a
restart. Counters cover every database of the server.

    .venv/bin/python bench/e2e/pg_statements.py reset
    .venv/bin/python bench/e2e/pg_statements.py show --top 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path

import asyncpg

# pg_stat_database at the reset: `show` prints what each counter grew by since, summed
# over the databases that exist at both times (a dropped database takes its counters
# with it: run the bench with --keep to count the Deployments' own). Its `sessions`
# counts connections opened, which the statement counters do not show.
_SNAPSHOT = Path(__file__).resolve().parents[2] / ".state" / "pg_statements-snapshot.json"
_COUNTERS = ("sessions", "xact_commit", "xact_rollback", "tup_inserted", "tup_updated")
_DATABASES = f"SELECT datname, {', '.join(_COUNTERS)} FROM pg_stat_database"

_TOP = """
SELECT calls, total_exec_time + total_plan_time AS ms,
       left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS query
FROM pg_stat_statements ORDER BY ms DESC LIMIT $1
"""


async def main(args: argparse.Namespace) -> None:
    conn = await asyncpg.connect(os.environ["JETBRIDGE_POSTGRES_DSN"])
    try:
        if args.command == "reset":
            await conn.execute("SELECT pg_stat_statements_reset()")
            _SNAPSHOT.write_text(json.dumps(_by_database(await conn.fetch(_DATABASES))))
            return
        if _SNAPSHOT.exists():
            before = json.loads(_SNAPSHOT.read_text())
            now = _by_database(await conn.fetch(_DATABASES))
            both = before.keys() & now.keys()
            grew = {c: sum(now[d][c] - before[d][c] for d in both) for c in _COUNTERS}
            print(f"since the reset, in {len(both)} databases:", grew)
        total = await conn.fetchval(
            "SELECT sum(total_exec_time + total_plan_time) FROM pg_stat_statements"
        )
        print(f"all statements: {float(total or 0) / 1000:.1f} s (execution + planning)")
        print(f"{'ms':>8} {'calls':>7}  query")
        for row in await conn.fetch(_TOP, args.top):
            print(f"{row['ms']:8.0f} {row['calls']:7d}  {row['query']}")
    finally:
        await conn.close()


def _by_database(rows: list[asyncpg.Record]) -> dict[str, dict[str, int]]:
    return {str(r["datname"]): {c: int(r[c] or 0) for c in _COUNTERS} for r in rows}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["reset", "show"])
    parser.add_argument("--top", type=int, default=30)
    asyncio.run(main(parser.parse_args()))
