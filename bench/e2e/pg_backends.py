"""PostgreSQL's CPU by database and client, read from /proc while a benchmark runs.

Why: the stack's PostgreSQL used about a third of the machine in a 1,000-Deployment
failover, and ``pg_stat_statements`` (``pg_statements.py``) times statements, not the
rest of a backend's work (protocol, commits, catalog caches). Every client holds its
own backends, so a backend's utime + stime, grouped by its database (``e2e..._navigator``,
``..._flightdeck_dp_west``, a Deployment's own database...) and application name, says
which service's use of PostgreSQL costs what. Backends that exit during the window
(a short connection) are counted up to their last sample.

    .venv/bin/python bench/e2e/pg_backends.py --seconds 40      # while the failover runs
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import time
from collections import defaultdict
from pathlib import Path

import asyncpg

TICKS = float(os.sysconf("SC_CLK_TCK"))


def cpu_s(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS


def group_of(database: str | None, application: str | None) -> str:
    """A run's databases differ by their tag (``e2e<hex>_``): drop it. A Deployment's own
    database is named after its id, which starts with the tag too: one group for all."""
    name = re.sub(r"^(e2e[0-9a-f]+)_\1[-_].*", "<deployment database>", database or "(none)")
    name = re.sub(r"^e2e[0-9a-f]+_", "", name)
    return f"{name} [{application or '-'}]"


async def watch(dsn: str, seconds: float, interval: float) -> dict[str, float]:
    conn = await asyncpg.connect(dsn)
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    groups: dict[int, str] = {}
    deadline = time.monotonic() + seconds
    initial = True
    try:
        while time.monotonic() < deadline:
            rows = await conn.fetch(
                "SELECT pid, datname, application_name FROM pg_stat_activity"
                " WHERE backend_type = 'client backend'"
            )
            for row in rows:
                pid = int(row["pid"])
                used = cpu_s(pid)
                if used is None:
                    continue
                groups.setdefault(pid, group_of(row["datname"], row["application_name"]))
                first.setdefault(pid, used if initial else 0.0)
                last[pid] = used
            initial = False
            await asyncio.sleep(interval)
    finally:
        await conn.close()
    totals: dict[str, float] = defaultdict(float)
    for pid, used in last.items():
        totals[groups[pid]] += used - first[pid]
    return dict(totals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default=os.environ.get("JETBRIDGE_POSTGRES_DSN"))
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--interval", type=float, default=0.5)
    args = parser.parse_args()
    totals = asyncio.run(watch(args.dsn, args.seconds, args.interval))
    for group, used in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"{used:8.2f} s  {group}")
    print(f"{sum(totals.values()):8.2f} s  client backends in all")


if __name__ == "__main__":
    main()
