"""Flightdeck throughput, side by side with procrastinate, on this machine.

Measures flights claimed AND completed per second:

* Flightdeck on PostgreSQL and on MariaDB with 1, 4 and 8 claimers. Each claimer is
  its own process (as Pilot replicas are) with its own small pool; it loops
  ``claim(limit=batch)`` -> trivial work -> ``complete_many`` (one outbox event per
  flight, as the Pilot writes one) until the queue is drained.
* procrastinate on the same PostgreSQL doing the same trivial work: jobs deferred up
  front, then one worker with ``concurrency`` 1, 4, 8 runs until the queue is empty.

Enqueueing/deferring and process start-up are not timed: the clock starts when every
claimer is connected and released at once, and stops when the last one finishes.

    .venv/bin/python bench/flightdeck/bench_flightdeck.py [--flights 20000] ...

Writes bench/results/flightdeck.json and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
import multiprocessing as mp
import os
import platform
import sys
import time
import uuid
from collections.abc import AsyncIterator
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncmy
import asyncpg

from jetbridge.common.settings import load_stack_settings
from jetbridge.flightdeck import Completion, NewFlight, OutboxEvent, Outcome, Side, open_flightdeck
from jetbridge.flightdeck.mysql import mysql_connect_kwargs

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench" / "e2e"))
from stack_cpu import cpu_model  # noqa: E402

DEFAULT_OUT = REPO / "bench" / "results" / "flightdeck.json"


# -- throwaway databases ---------------------------------------------------------------


def _with_db(dsn: str, name: str) -> str:
    p = urlsplit(dsn)
    return urlunsplit((p.scheme, p.netloc, "/" + name, p.query, ""))


@contextlib.asynccontextmanager
async def database(admin_dsn: str, prefix: str) -> AsyncIterator[str]:
    """A throwaway database on the server, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    if admin_dsn.startswith("postgres"):
        pg = await asyncpg.connect(admin_dsn)
        await pg.execute(f'CREATE DATABASE "{name}"')
        try:
            yield _with_db(admin_dsn, name)
        finally:
            await pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await pg.close()
        return
    my = await asyncmy.connect(**mysql_connect_kwargs(admin_dsn), autocommit=True)
    async with my.cursor() as cur:
        await cur.execute(f"CREATE DATABASE `{name}`")
    try:
        yield _with_db(admin_dsn, name)
    finally:
        async with my.cursor() as cur:
            await cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        await my.ensure_closed()


def make_flight(i: int) -> NewFlight:
    return NewFlight(
        flight_id=f"bench-{i:07d}",
        mission_id=f"msn-{i}",
        request_id="req-bench",
        deployment_id=f"dep-{i}",
        side=Side.DESTINATION,
        mode="CONTROLLED",
        plan=[{"step": s, "kind": "noop"} for s in range(6)],
        fencing_epoch=1,
    )


def trivial_work(flight_id: str) -> bytes:
    """The 'work' of a flight in the benchmark: build its completion event payload."""
    return flight_id.encode()


# -- Flightdeck claimers (one process each) -------------------------------------------


def _claimer_process(dsn: str, owner: str, batch: int, sync: tuple[Any, Any, Any]) -> None:
    ready, go, out = sync

    async def main() -> None:
        store = await open_flightdeck(dsn, min_size=1, max_size=1, migrate=False)
        ready.put(owner)
        await asyncio.get_running_loop().run_in_executor(None, go.wait)
        done = 0
        while claims := await store.claim(owner, batch, 60):
            lost = await store.complete_many(
                [
                    Completion(
                        c, Outcome.SUCCEEDED, [OutboxEvent("flights", trivial_work(c.flight_id))]
                    )
                    for c in claims
                ]
            )
            if lost:
                raise RuntimeError(f"lost leases in a benchmark: {sorted(lost)[:3]}")
            done += len(claims)
        out.put((owner, done, time.monotonic()))
        await store.close()

    asyncio.run(main())


async def bench_flightdeck(
    admin_dsn: str, claimers: int, flights: int, batch: int
) -> dict[str, Any]:
    prefix = "fdbench_pg" if admin_dsn.startswith("postgres") else "fdbench_my"
    async with database(admin_dsn, prefix) as dsn:
        agent = await open_flightdeck(dsn)
        for start in range(0, flights, 2000):
            await agent.enqueue_many(
                [make_flight(i) for i in range(start, min(flights, start + 2000))]
            )
        ctx = mp.get_context("spawn")
        ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
        procs = [
            ctx.Process(target=_claimer_process, args=(dsn, f"pilot-{i}", batch, (ready, go, out)))
            for i in range(claimers)
        ]
        for p in procs:
            p.start()
        loop = asyncio.get_running_loop()
        for _ in procs:
            await loop.run_in_executor(None, ready.get, True, 60)
        t0 = time.monotonic()
        go.set()
        results = [await loop.run_in_executor(None, out.get, True, 600) for _ in procs]
        for p in procs:
            await loop.run_in_executor(None, p.join)
        elapsed = max(r[2] for r in results) - t0
        completed = sum(r[1] for r in results)
        pending = await agent.outbox_pending(flights + 1)
        await agent.close()
    if completed != flights or len(pending) != flights:
        raise RuntimeError(
            f"expected {flights} completions, got {completed} / {len(pending)} events"
        )
    return {
        "claimers": claimers,
        "flights": flights,
        "batch": batch,
        "seconds": round(elapsed, 3),
        "flights_per_s": round(flights / elapsed, 1),
        "per_claimer": sorted(r[1] for r in results),
        "loadavg_1m_after": round(os.getloadavg()[0], 1),
    }


# -- procrastinate --------------------------------------------------------------------


async def bench_procrastinate(admin_dsn: str, concurrency: int, jobs: int) -> dict[str, Any]:
    import procrastinate  # noqa: PLC0415 - baseline only

    async with database(admin_dsn, "fdbench_procrastinate") as dsn:
        p = urlsplit(dsn)
        conninfo = (
            f"host={p.hostname} port={p.port or 5432} dbname={p.path.lstrip('/')} "
            f"user={p.username} password={p.password or ''}"
        )
        app = procrastinate.App(
            connector=procrastinate.PsycopgConnector(
                conninfo=conninfo, min_size=1, max_size=concurrency + 2
            )
        )
        done: list[str] = []

        @app.task(name="fly", queue="flights")
        async def fly(flight_id: str) -> None:
            done.append(trivial_work(flight_id).decode())

        async with app.open_async():
            await app.schema_manager.apply_schema_async()
            for start in range(0, jobs, 2000):
                batch: list[dict[str, Any]] = [
                    {"flight_id": f"bench-{i:07d}"} for i in range(start, min(jobs, start + 2000))
                ]
                await fly.batch_defer_async(*batch)
            t0 = time.monotonic()
            await app.run_worker_async(
                queues=["flights"],
                concurrency=concurrency,
                wait=False,
                install_signal_handlers=False,
                listen_notify=False,
                delete_jobs="never",
            )
            elapsed = time.monotonic() - t0
            conn = await asyncpg.connect(dsn)
            succeeded = await conn.fetchval(
                "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"
            )
            await conn.close()
    if len(done) != jobs or succeeded != jobs:
        raise RuntimeError(f"procrastinate ran {len(done)} / {succeeded} of {jobs} jobs")
    return {
        "concurrency": concurrency,
        "jobs": jobs,
        "seconds": round(elapsed, 3),
        "jobs_per_s": round(jobs / elapsed, 1),
        "loadavg_1m_after": round(os.getloadavg()[0], 1),
    }


# -- environment ----------------------------------------------------------------------


async def versions(pg_dsn: str, mysql_dsn: str) -> dict[str, str]:
    conn = await asyncpg.connect(pg_dsn)
    pg = await conn.fetchval("SHOW server_version")
    sync_commit = await conn.fetchval("SHOW synchronous_commit")
    fsync = await conn.fetchval("SHOW fsync")
    await conn.close()
    my = await asyncmy.connect(**mysql_connect_kwargs(mysql_dsn), autocommit=True)
    async with my.cursor() as cur:
        await cur.execute("SELECT VERSION(), @@innodb_flush_log_at_trx_commit")
        my_version, flush = await cur.fetchone()
    await my.ensure_closed()
    return {
        "postgresql": pg,
        "postgresql_synchronous_commit": sync_commit,
        "postgresql_fsync": fsync,
        "mariadb": my_version,
        "mariadb_innodb_flush_log_at_trx_commit": str(flush),
        "python": platform.python_version(),
        **{
            pkg: metadata.version(pkg) for pkg in ("asyncpg", "asyncmy", "procrastinate", "psycopg")
        },
    }


def print_table(report: dict[str, Any]) -> None:
    counts = report["claimer_counts"]
    header = f"{'flights/s (claim+complete)':<34}" + "".join(f"{n:>10} " for n in counts)
    print(header)
    print("-" * len(header))
    rows = [
        ("Flightdeck PostgreSQL", report["flightdeck"]["postgresql"], "flights_per_s"),
        ("Flightdeck MariaDB", report["flightdeck"]["mysql"], "flights_per_s"),
        ("procrastinate (worker concurrency)", report["procrastinate"], "jobs_per_s"),
    ]
    for label, runs, key in rows:
        print(f"{label:<34}" + "".join(f"{r[key]:>10.0f} " for r in runs))
    ratios = report["ratio_pg_vs_procrastinate"]
    print(f"{'PostgreSQL / procrastinate':<34}" + "".join(f"{x:>9.1f}x " for x in ratios))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    counts = [int(n) for n in args.claimers.split(",")]
    report: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cores": os.cpu_count(),
            "cpu": cpu_model(),
            "kernel": platform.release(),
            # Other work shares these 2 cores; the load average says how much.
            "loadavg_1m_at_start": round(os.getloadavg()[0], 1),
        },
        "versions": await versions(args.pg_dsn, args.mysql_dsn),
        "claimer_counts": counts,
        "settings": {"flights": args.flights, "batch": args.batch, "jobs": args.jobs},
        "flightdeck": {"postgresql": [], "mysql": []},
        "procrastinate": [],
    }
    for n in counts:
        for dialect, dsn in (("postgresql", args.pg_dsn), ("mysql", args.mysql_dsn)):
            result = await bench_flightdeck(dsn, n, args.flights, args.batch)
            report["flightdeck"][dialect].append(result)
            print(
                f"flightdeck {dialect:<10} claimers={n}: {result['flights_per_s']:>8.0f}/s",
                flush=True,
            )
        result = await bench_procrastinate(args.pg_dsn, n, args.jobs)
        report["procrastinate"].append(result)
        print(f"procrastinate concurrency={n}: {result['jobs_per_s']:>8.0f}/s", flush=True)
    report["ratio_pg_vs_procrastinate"] = [
        round(f["flights_per_s"] / p["jobs_per_s"], 1)
        for f, p in zip(report["flightdeck"]["postgresql"], report["procrastinate"], strict=True)
    ]
    best_pg = max(r["flights_per_s"] for r in report["flightdeck"]["postgresql"])
    best_proc = max(r["jobs_per_s"] for r in report["procrastinate"])
    report["targets"] = {
        "pg_ge_5000_per_s": best_pg >= 5000,
        "pg_ge_10x_procrastinate": best_pg >= 10 * best_proc,
        "best_pg_flights_per_s": best_pg,
        "best_procrastinate_jobs_per_s": best_proc,
    }
    return report


def main() -> None:
    stack = load_stack_settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-dsn", default=stack.postgres_dsn, help="PostgreSQL superuser DSN")
    parser.add_argument("--mysql-dsn", default=stack.mysql_dsn, help="MariaDB root DSN")
    parser.add_argument("--flights", type=int, default=20000, help="flights per Flightdeck run")
    parser.add_argument("--jobs", type=int, default=3000, help="jobs per procrastinate run")
    parser.add_argument("--batch", type=int, default=100, help="claim/complete batch size")
    parser.add_argument("--claimers", default="1,4,8", help="comma-separated claimer counts")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    if not args.pg_dsn or not args.mysql_dsn:
        parser.error("no DSNs: run `make stack-up` or pass --pg-dsn/--mysql-dsn")
    logging.basicConfig(level=logging.WARNING)
    # The app lives in __main__ on purpose (one-file bench, in-process worker).
    logging.getLogger("procrastinate.blueprints").setLevel(logging.ERROR)
    report = asyncio.run(run(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print()
    print_table(report)
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
