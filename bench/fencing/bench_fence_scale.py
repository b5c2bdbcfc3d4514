"""FENCE_DATABASE with many Deployments on one PostgreSQL server: fences/s and why.

One run provisions N Deployments with the real ``PostgresFencer.provision``
(APC-managed model, as a NON-superuser admin role created for the run, LOGIN CREATEDB
CREATEROLE, exactly as the integration suite's harness makes it), then fences all N to
the next epoch (a fresh run: side A -> B, epoch 1) with at most C fences in flight at
once (default 16, the Pilot's flight slots), then, alone on the server, measures:

* one ``SELECT pg_has_role(current_user, <owner role>, 'MEMBER')`` (and ``'USAGE'``)
  as the admin role on a connection that is already open and warm, right after a fence
  ran on another connection (the fence's role and ACL changes invalidate every
  backend's cached membership list), against the same check with nothing in between;
* opening a fresh admin connection to a Deployment's database (its CONNECT check goes
  through the admin's membership in the owner role) and to ``postgres``.

Everything the run creates carries a private prefix (``jbfs<hex>_``: databases, the
five roles of every Deployment, the admin role) and is dropped at the end by the
superuser, also on failure or Ctrl-C/SIGTERM; ``--keep`` leaves it for another run
(``--reuse PREFIX``: fence the Deployments already there to their next epoch) and
``--cleanup PREFIX`` drops it.

One ``PostgresFencer`` serves the whole run, as one in a Pilot does: Deployments
provisioned by this code keep their epoch in the run's own state database
(``<prefix>fencing-state``), so fences share its pool of warm connections.

``--profile`` fences through a thin timing wrapper around the fencer's connections
(the same ``PostgresFencer.fence`` code; every statement, BEGIN/COMMIT, the connect or
the pool's acquire are timed client-side, per fence, and named after their query in
``sql/postgresql.sql``).

    .venv/bin/python bench/fencing/bench_fence_scale.py --server pg15 --deployments 100
    .venv/bin/python bench/fencing/bench_fence_scale.py --server pg18 -n 1000 --profile

Appends one object per run to bench/results/fence-scale.json and prints a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import re
import secrets
import signal
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import asyncpg

from jetbridge.common.settings import load_stack_settings
from jetbridge.fencing.domain import (
    DeploymentDatabases,
    FencingOutcome,
    NotProvisioned,
    OwnershipModel,
    Side,
)
from jetbridge.fencing.postgres import PostgresFencer
from jetbridge.fencing.quoting import pg_ident, pg_literal
from jetbridge.fencing.sqlfiles import queries

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench" / "e2e"))
from stack_cpu import cpu_model, machine_busy_s, parent_of, tree_cpu_s  # noqa: E402

DEFAULT_OUT = REPO / "bench" / "results" / "fence-scale.json"
Q = queries("postgresql")


# -- names and the run's own objects ----------------------------------------------------


def deployments(prefix: str, n: int) -> list[DeploymentDatabases]:
    return [
        DeploymentDatabases.named(f"fs{i:05d}", prefix=prefix, ownership=OwnershipModel.APC_MANAGED)
        for i in range(n)
    ]


def admin_name(prefix: str) -> str:
    return f"{prefix}admin"


def state_database(prefix: str) -> str:
    return f"{prefix}fencing-state"  # a hyphen: no Deployment's database is named so


def dsn_as(superuser_dsn: str, user: str, password: str, database: str = "postgres") -> str:
    p = urlsplit(superuser_dsn)
    host, port = p.hostname or "127.0.0.1", p.port or 5432
    return f"postgresql://{quote(user)}:{quote(password, safe='')}@{host}:{port}/{database}"


async def create_admin(su_dsn: str, prefix: str, password: str) -> str:
    """The documented minimum for APC-managed users (tests/integration/fencing/harness.py)."""
    name = admin_name(prefix)
    su = await asyncpg.connect(su_dsn)
    try:
        await su.execute(
            f"CREATE ROLE {pg_ident(name)} LOGIN CREATEDB CREATEROLE NOSUPERUSER "
            f"PASSWORD {pg_literal(password)}"
        )
    finally:
        await su.close()
    return name


async def set_admin_password(su_dsn: str, prefix: str, password: str) -> None:
    su = await asyncpg.connect(su_dsn)
    try:
        await su.execute(
            f"ALTER ROLE {pg_ident(admin_name(prefix))} PASSWORD {pg_literal(password)}"
        )
    finally:
        await su.close()


async def cleanup(su_dsn: str, prefix: str) -> dict[str, Any]:
    """Drop every database and role whose name starts with ``prefix`` (superuser)."""
    assert re.fullmatch(r"jbfs[0-9a-f]{6}_", prefix), prefix  # never anything but ours
    t0 = time.monotonic()
    su = await asyncpg.connect(su_dsn)
    try:
        dbs = [
            r["datname"]
            for r in await su.fetch(
                "SELECT datname FROM pg_database WHERE left(datname, length($1)) = $1", prefix
            )
        ]
        for db in dbs:
            await su.execute(f"DROP DATABASE IF EXISTS {pg_ident(db)} WITH (FORCE)")
        roles = [
            r["rolname"]
            for r in await su.fetch(
                "SELECT rolname FROM pg_roles WHERE left(rolname, length($1)) = $1", prefix
            )
        ]
        admin = admin_name(prefix)
        for role in [r for r in roles if r != admin]:
            await su.execute(f"DROP ROLE IF EXISTS {pg_ident(role)}")
        if admin in roles:
            await su.execute(f"DROP OWNED BY {pg_ident(admin)}")
            await su.execute(f"DROP ROLE IF EXISTS {pg_ident(admin)}")
    finally:
        await su.close()
    return {"databases": len(dbs), "roles": len(roles), "seconds": round(time.monotonic() - t0, 1)}


async def existing_databases(su_dsn: str, prefix: str) -> set[str]:
    su = await asyncpg.connect(su_dsn)
    try:
        rows = await su.fetch(
            "SELECT datname FROM pg_database WHERE left(datname, length($1)) = $1", prefix
        )
    finally:
        await su.close()
    return {r["datname"] for r in rows}


# -- statement timing (--profile) ---------------------------------------------------------


def _template_regex(sql: str) -> re.Pattern[str]:
    parts = re.split(r"\{[a-z_]+\}", sql.strip())
    return re.compile(".+?".join(re.escape(p) for p in parts) + r"\Z", re.S)


_STATIC = {sql.strip(): name for name, sql in Q.items() if "{" not in sql}
# Most specific first: ``grant_role`` (GRANT {granted} TO {grantee}) matches any GRANT.
_TEMPLATES = [
    (name, _template_regex(sql))
    for name, sql in sorted(
        ((n, s) for n, s in Q.items() if "{" in s),
        key=lambda ns: -len(re.sub(r"\{[a-z_]+\}", "", ns[1])),
    )
]


def statement_name(sql: str) -> str:
    text = sql.strip()
    statements = text.split(";\n")
    if len(statements) > 1:  # a fence's writes and COMMIT, sent as one query
        return "+".join(statement_name(statement) for statement in statements)
    if text in ("BEGIN", "COMMIT", "ROLLBACK"):
        return text
    if text in _STATIC:
        return _STATIC[text]
    for name, pattern in _TEMPLATES:
        if pattern.match(text):
            return name
    return "other: " + " ".join(text.split())[:40]


class Timings:
    """Per-call list of (statement, ms), in order."""

    def __init__(self) -> None:
        self.current: list[tuple[str, float]] = []

    def add(self, name: str, started: float) -> None:
        self.current.append((name, (time.perf_counter() - started) * 1000.0))


# The timings of the provision or fence this asyncio task runs (one call per task).
TIMINGS: ContextVar[Timings] = ContextVar("timings")


def timed_call() -> Timings:
    TIMINGS.set(timings := Timings())
    return timings


class TimedTransaction:
    def __init__(self, tx: Any, timings: Timings) -> None:
        self._tx, self._t = tx, timings

    async def __aenter__(self) -> Any:
        t0 = time.perf_counter()
        result = await self._tx.__aenter__()
        self._t.add("BEGIN", t0)
        return result

    async def __aexit__(self, *exc: Any) -> Any:
        t0 = time.perf_counter()
        result = await self._tx.__aexit__(*exc)
        self._t.add("COMMIT" if exc[0] is None else "ROLLBACK", t0)
        return result


class TimedConnection:
    """Just enough of asyncpg.Connection for PostgresFencer, every call timed."""

    def __init__(self, conn: asyncpg.Connection, timings: Timings) -> None:
        self._conn, self._t = conn, timings

    async def _timed(self, sql: str, call: Callable[[], Awaitable[Any]]) -> Any:
        t0 = time.perf_counter()
        try:
            return await call()
        finally:
            self._t.add(statement_name(sql), t0)

    async def execute(self, sql: str, *args: Any) -> Any:
        return await self._timed(sql, lambda: self._conn.execute(sql, *args))

    async def fetch(self, sql: str, *args: Any) -> Any:
        return await self._timed(sql, lambda: self._conn.fetch(sql, *args))

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        return await self._timed(sql, lambda: self._conn.fetchrow(sql, *args))

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._timed(sql, lambda: self._conn.fetchval(sql, *args))

    def transaction(self) -> TimedTransaction:
        return TimedTransaction(self._conn.transaction(), self._t)

    async def close(self) -> None:
        t0 = time.perf_counter()
        await self._conn.close()
        self._t.add("close", t0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


class TimedFencer(PostgresFencer):
    """The real fencer; only its connections are wrapped, timed into the task's TIMINGS.
    (Provisioning's statements on the state database are not timed.)"""

    async def _connect(self, database: str | None = None) -> Any:
        timings, t0 = TIMINGS.get(), time.perf_counter()
        conn = await super()._connect(database)
        timings.add("connect", t0)
        return TimedConnection(conn, timings)

    @contextlib.asynccontextmanager
    async def _central(self, dep: DeploymentDatabases) -> AsyncIterator[Any]:
        timings, t0 = TIMINGS.get(), time.perf_counter()
        async with super()._central(dep) as central:
            timings.add("acquire+epochs_read", t0)
            if central is None:
                yield None
            else:
                yield TimedConnection(central[0], timings), central[1]


def make_fencer(admin_dsn: str, prefix: str, *, profile: bool) -> PostgresFencer:
    kind = TimedFencer if profile else PostgresFencer
    return kind(admin_dsn, state_database=state_database(prefix))  # the Pilot's pool size


# -- statistics ---------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100.0 * (len(ordered) - 1))))
    return ordered[k]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(pct(values, 50), 1),
        "p90": round(pct(values, 90), 1),
        "max": round(max(values), 1) if values else float("nan"),
        "mean": round(statistics.fmean(values), 1) if values else float("nan"),
    }


class LoadSampler:
    """1-minute load average every 5 s while a phase runs (the machine is shared)."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.samples.append(round(os.getloadavg()[0], 2))
            await asyncio.sleep(5)

    def __enter__(self) -> LoadSampler:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        self.samples.append(round(os.getloadavg()[0], 2))

    def report(self) -> dict[str, float]:
        return {"min": min(self.samples), "max": max(self.samples)}


# -- phases -------------------------------------------------------------------------------


def per_statement_report(per_statement: dict[str, list[float]]) -> dict[str, Any]:
    grand = sum(sum(v) for v in per_statement.values())
    return {
        name: {**summary(v), "share_of_time": round(sum(v) / grand, 3)}
        for name, v in sorted(per_statement.items(), key=lambda kv: -sum(kv[1]))
    }


def collect(timings: Timings, into: dict[str, list[float]]) -> None:
    seen: dict[str, float] = defaultdict(float)
    for name, ms in timings.current:
        seen[name] += ms  # one value per statement name per call
    for name, ms in seen.items():
        into[name].append(ms)


async def provision_all(
    fencer: PostgresFencer,
    deps: list[DeploymentDatabases],
    concurrency: int,
    budget_s: float,
) -> dict[str, Any]:
    passwords = {
        Side.A: "bench-A-" + secrets.token_hex(8),
        Side.B: "bench-B-" + secrets.token_hex(8),
    }
    sem = asyncio.Semaphore(concurrency)
    took: list[tuple[int, float]] = []
    done = 0
    deadline = time.monotonic() + budget_s
    per_statement: dict[str, list[float]] = defaultdict(list)

    async def one(i: int, dep: DeploymentDatabases) -> None:
        nonlocal done
        async with sem:
            if time.monotonic() > deadline:
                return
            timings, t0 = timed_call(), time.perf_counter()
            await fencer.provision(dep, passwords)
            took.append((i, (time.perf_counter() - t0) * 1000.0))
            collect(timings, per_statement)
            done += 1
            if done % 100 == 0:
                print(f"  provisioned {done}/{len(deps)}", flush=True)

    t0 = time.monotonic()
    with LoadSampler() as load:
        await asyncio.gather(*(one(i, d) for i, d in enumerate(deps)))
    wall = time.monotonic() - t0
    ms = [m for _, m in sorted(took)]
    tenth = max(1, len(ms) // 10)
    return {
        "provisioned": len(ms),
        "requested": len(deps),
        "concurrency": concurrency,
        "seconds": round(wall, 1),
        "per_deployment_wall_ms": round(wall * 1000.0 / max(1, len(ms)), 1),
        "per_call_ms": summary(ms),
        "first_tenth_p50_ms": round(pct(ms[:tenth], 50), 1),
        "last_tenth_p50_ms": round(pct(ms[-tenth:], 50), 1),
        "stopped_by_budget": len(ms) < len(deps),
        "loadavg_1m": load.report(),
        **({"per_statement_ms": per_statement_report(per_statement)} if per_statement else {}),
    }


async def postmaster_pid(dsn: str) -> int | None:
    """The server's postmaster, when it runs on this machine (a backend's parent)."""
    conn = await asyncpg.connect(dsn)
    try:  # read while the backend lives
        return parent_of(int(await conn.fetchval("SELECT pg_backend_pid()")))
    finally:
        await conn.close()


def _cpu_sample(server: int | None) -> dict[str, float]:
    found = {"client": time.process_time(), "machine": machine_busy_s()}
    return found | ({"server": tree_cpu_s(server)} if server is not None else {})


async def fence_all(
    fencer: PostgresFencer,
    admin_dsn: str,
    deps: list[DeploymentDatabases],
    concurrency: int,
    budget_s: float,
    *,
    reuse: bool,
) -> dict[str, Any]:
    sem = asyncio.Semaphore(concurrency)
    # Where each Deployment is now (not timed): a fresh run fences A -> B at epoch 1.
    targets: list[tuple[DeploymentDatabases, Side, int]] = [(d, Side.B, 1) for d in deps]
    skipped = 0
    if reuse:

        async def read(dep: DeploymentDatabases) -> tuple[DeploymentDatabases, Side, int] | None:
            async with sem:
                timed_call()  # not collected
                try:
                    st = await fencer.state(dep)
                except NotProvisioned:  # e.g. the server restarted mid-provision
                    return None
            return dep, st.target_side.other(), st.epoch + 1

        read_back = await asyncio.gather(*(read(d) for d in deps))
        targets = [t for t in read_back if t is not None]
        skipped = len(deps) - len(targets)
    outcomes: list[tuple[float, FencingOutcome]] = []
    per_statement: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    deadline = time.monotonic() + budget_s
    progress: list[float] = []  # completion times since start

    async def one(dep: DeploymentDatabases, side: Side, epoch: int) -> None:
        async with sem:
            if time.monotonic() > deadline:
                return
            timings, t0 = timed_call(), time.perf_counter()
            try:
                outcome = await fencer.fence(dep, side, epoch)
            except Exception as exc:
                errors.append(f"{dep.deployment_id}: {type(exc).__name__}: {exc}")
                return
            outcomes.append(((time.perf_counter() - t0) * 1000.0, outcome))
            progress.append(time.monotonic() - start)
            collect(timings, per_statement)
            if len(outcomes) % 100 == 0:
                print(f"  fenced {len(outcomes)}/{len(deps)} at {progress[-1]:.1f} s", flush=True)

    server = await postmaster_pid(admin_dsn)
    cpu_before = _cpu_sample(server)
    start = time.monotonic()
    with LoadSampler() as load:
        await asyncio.gather(*(one(*t) for t in targets))
    wall = time.monotonic() - start
    cpu = {k: v - cpu_before[k] for k, v in _cpu_sample(server).items()}
    total = [ms for ms, _ in outcomes]
    result: dict[str, Any] = {
        "fenced": len(outcomes),
        "requested": len(targets),
        "skipped_not_provisioned": skipped,
        "errors": errors[:10],
        "error_count": len(errors),
        "concurrency": concurrency,
        "seconds": round(wall, 2),
        "fences_per_s": round(len(outcomes) / wall, 2) if wall else None,
        "per_fence_ms": summary(total),
        "revoked_ms": summary([o.revoked_ms for _, o in outcomes]),
        "sessions_gone_ms": summary([o.sessions_gone_ms for _, o in outcomes]),
        "stopped_by_budget": len(outcomes) + len(errors) < len(targets),
        "loadavg_1m": load.report(),
        # CPU per fence: the server (postmaster + backends, exited ones included; only
        # when the server runs on this machine), this process (the fencer's Python), and
        # the whole machine (both, plus anything else that ran).
        "cpu_ms_per_fence": {
            k: round(v * 1000.0 / len(outcomes), 2) if outcomes else None for k, v in cpu.items()
        },
    }
    if per_statement:
        result["per_statement_ms"] = per_statement_report(per_statement)
    return result


async def isolated_checks(
    fencer: PostgresFencer,
    admin_dsn: str,
    su_dsn: str,
    deps: list[DeploymentDatabases],
    repeats: int,
) -> dict[str, Any]:
    """pg_has_role as the admin right after a fence (nothing else of ours running)."""
    probe = deps[-1].owner_role
    check_member = "SELECT pg_has_role(current_user, $1::text, 'MEMBER')"
    check_usage = "SELECT pg_has_role(current_user, $1::text, 'USAGE')"
    timed_call()  # not collected
    conn = await asyncpg.connect(admin_dsn)
    out: dict[str, list[float]] = defaultdict(list)

    async def timed(name: str, sql: str) -> None:
        t0 = time.perf_counter()
        assert await conn.fetchval(sql, probe)
        out[name].append((time.perf_counter() - t0) * 1000.0)

    try:
        await conn.fetchval(check_member, probe)
        await conn.fetchval(check_usage, probe)
        for r in range(repeats):
            dep = deps[r % len(deps)]
            st = await fencer.state(dep)
            await timed("member_cached_ms", check_member)  # nothing changed since the last
            await fencer.fence(dep, st.target_side.other(), st.epoch + 1)
            await timed("member_after_fence_ms", check_member)
            await timed("usage_after_member_ms", check_usage)  # same invalidation, PRIVS list
            await timed("member_again_ms", check_member)
            t0 = time.perf_counter()
            fresh = await asyncpg.connect(admin_dsn, database=dep.epoch_database)
            out["connect_deployment_db_ms"].append((time.perf_counter() - t0) * 1000.0)
            t0 = time.perf_counter()
            await fresh.fetchval(check_member, probe)
            out["member_on_fresh_connection_ms"].append((time.perf_counter() - t0) * 1000.0)
            await fresh.close()
            t0 = time.perf_counter()
            fresh = await asyncpg.connect(admin_dsn)
            out["connect_postgres_db_ms"].append((time.perf_counter() - t0) * 1000.0)
            await fresh.close()
    finally:
        await conn.close()
    su = await asyncpg.connect(su_dsn)
    try:
        admin = urlsplit(admin_dsn).username
        memberships = await su.fetchval(
            "SELECT count(*) FROM pg_auth_members WHERE member = $1::text::regrole", admin
        )
        closure = await su.fetchval(
            """WITH RECURSIVE up(r) AS (SELECT $1::text::regrole::oid
                 UNION SELECT m.roleid FROM pg_auth_members m JOIN up ON m.member = up.r)
               SELECT count(*) FROM up""",
            admin,
        )
        roles = await su.fetchval("SELECT count(*) FROM pg_roles")
    finally:
        await su.close()
    return {
        "probe_role": probe,
        "repeats": repeats,
        **{
            k: {"median": round(statistics.median(v), 2), "all": [round(x, 2) for x in v]}
            for k, v in out.items()
        },
        "admin_direct_memberships": memberships,
        "admin_membership_closure": closure,
        "roles_on_server": roles,
    }


# -- environment --------------------------------------------------------------------------


def fencing_code() -> dict[str, str]:
    """Which fencing code ran (a baseline may run an older copy via PYTHONPATH)."""
    module = Path(sys.modules[PostgresFencer.__module__].__file__ or "")
    digest = hashlib.sha256()
    for path in (module, module.parent / "sql" / "postgresql.sql"):
        digest.update(path.read_bytes())
    return {"module": str(module), "sha256_postgres_py_and_sql": digest.hexdigest()[:16]}


async def server_info(su_dsn: str) -> dict[str, Any]:
    su = await asyncpg.connect(su_dsn)
    try:
        info = {
            name: await su.fetchval(f"SHOW {name}")
            for name in (
                "server_version",
                "fsync",
                "synchronous_commit",
                "shared_buffers",
                "max_connections",
            )
        }
        info["roles_before"] = await su.fetchval("SELECT count(*) FROM pg_roles")
        info["databases_before"] = await su.fetchval("SELECT count(*) FROM pg_database")
    finally:
        await su.close()
    return info


# -- main ---------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    su_dsn = args.dsn
    report: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "label": args.label,
        "server": args.server,
        "machine": {
            "cores": os.cpu_count(),
            "cpu": cpu_model(),
            "kernel": platform.release(),
            # Other work shares these cores; the load average says how much.
            "loadavg_1m_at_start": round(os.getloadavg()[0], 2),
        },
        "versions": {
            "python": platform.python_version(),
            "asyncpg": metadata.version("asyncpg"),
            **await server_info(su_dsn),
        },
        "code": fencing_code(),
        "settings": {
            "deployments": args.deployments,
            "concurrency": args.concurrency,
            "provision_concurrency": args.provision_concurrency,
            "profile": args.profile,
            "ownership": "APC_MANAGED",
        },
    }
    password = secrets.token_hex(16)
    if args.reuse:
        prefix = args.reuse
        await set_admin_password(su_dsn, prefix, password)
    else:
        prefix = "jbfs" + secrets.token_hex(3) + "_"
        await create_admin(su_dsn, prefix, password)
    report["prefix"] = prefix
    print(f"prefix {prefix} on {args.server} ({report['versions']['server_version']})", flush=True)
    admin_dsn = dsn_as(su_dsn, admin_name(prefix), password)
    deps = deployments(prefix, args.deployments)
    fencer = make_fencer(admin_dsn, prefix, profile=args.profile)
    try:
        existing = await existing_databases(su_dsn, prefix) if args.reuse else set()
        missing = [d for d in deps if d.epoch_database not in existing]
        if missing and (not args.reuse or args.provision_missing):
            print(
                f"provisioning {len(missing)} (concurrency {args.provision_concurrency}; "
                f"{len(deps) - len(missing)} there already)",
                flush=True,
            )
            report["provision"] = await provision_all(
                fencer, missing, args.provision_concurrency, args.provision_budget_s
            )
            report["provision"]["there_already"] = len(deps) - len(missing)
            print(f"  {json.dumps(report['provision'])}", flush=True)
            existing = await existing_databases(su_dsn, prefix)
        deps = [d for d in deps if d.epoch_database in existing or not args.reuse]
        if not args.reuse and "provision" in report:
            deps = deps[: report["provision"]["provisioned"]]
        print(f"fencing {len(deps)} (concurrency {args.concurrency})", flush=True)
        report["fence"] = await fence_all(
            fencer,
            admin_dsn,
            deps,
            args.concurrency,
            args.fence_budget_s,
            reuse=bool(args.reuse),
        )
        print(
            f"  fences/s {report['fence']['fences_per_s']}  "
            f"per fence {report['fence']['per_fence_ms']}  "
            f"CPU ms per fence {report['fence']['cpu_ms_per_fence']}",
            flush=True,
        )
        if args.isolated:
            report["isolated"] = await isolated_checks(
                fencer, admin_dsn, su_dsn, deps, args.isolated
            )
    finally:
        await fencer.close()
        if args.keep:
            print(f"kept everything with prefix {prefix} (--cleanup {prefix} drops it)", flush=True)
            report["cleanup"] = "kept"
        else:
            print("cleaning up", flush=True)
            report["cleanup"] = await asyncio.shield(cleanup(su_dsn, prefix))
    report["machine"]["loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)
    return report


async def main_async(args: argparse.Namespace) -> dict[str, Any] | None:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    if args.cleanup:
        print(json.dumps(await cleanup(args.dsn, args.cleanup)))
        return None
    return await run(args)


def print_summary(report: dict[str, Any]) -> None:
    prov, fence, iso = report.get("provision"), report["fence"], report.get("isolated", {})
    print()
    print(
        f"{report['server']} {report['versions']['server_version']}  "
        f"N={fence['requested']}  C={fence['concurrency']}"
    )
    if prov:
        print(
            f"  provisioning: {prov['provisioned']} in {prov['seconds']} s "
            f"({prov['per_deployment_wall_ms']} ms/Deployment wall; per call {prov['per_call_ms']})"
        )
    print(
        f"  fences: {fence['fenced']} in {fence['seconds']} s = {fence['fences_per_s']}/s; "
        f"per fence {fence['per_fence_ms']}; errors {fence['error_count']}"
    )
    for key in (
        "member_cached_ms",
        "member_after_fence_ms",
        "usage_after_member_ms",
        "connect_deployment_db_ms",
        "connect_postgres_db_ms",
    ):
        if key in iso:
            print(f"  {key}: median {iso[key]['median']} {iso[key]['all']}")
    statements = [("fence", fence.get("per_statement_ms", {}))]
    if prov:
        statements.insert(0, ("provision", prov.get("per_statement_ms", {})))
    for phase, per_statement in statements:
        if per_statement:
            print(f"  {phase}, per statement (ms per call, summed within a call):")
        for name, s in list(per_statement.items())[:12]:
            print(
                f"    {name:<22} p50 {s['p50']:>8} p90 {s['p90']:>8} max {s['max']:>8} "
                f"share {s['share_of_time']}"
            )
    print(
        f"  load average {report['machine']['loadavg_1m_at_start']} -> "
        f"{report['machine']['loadavg_1m_at_end']}"
    )


def main() -> None:
    stack = load_stack_settings()
    servers = {"pg15": stack.postgres_dsn, "pg18": stack.postgres18_dsn}
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=sorted(servers), default="pg15")
    parser.add_argument("--dsn", help="superuser DSN (default: the stack's --server)")
    parser.add_argument("-n", "--deployments", type=int, default=100)
    parser.add_argument("-c", "--concurrency", type=int, default=16, help="fences in flight")
    parser.add_argument("--provision-concurrency", type=int, default=4)
    parser.add_argument("--provision-budget-s", type=float, default=900.0)
    parser.add_argument("--fence-budget-s", type=float, default=540.0, help="no new fence after")
    parser.add_argument("--isolated", type=int, default=5, help="repeats of the isolated checks")
    parser.add_argument("--profile", action="store_true", help="time every statement of fence()")
    parser.add_argument("--keep", action="store_true", help="leave the Deployments for --reuse")
    parser.add_argument("--reuse", metavar="PREFIX", help="fence a kept run's Deployments again")
    parser.add_argument(
        "--provision-missing", action="store_true", help="with --reuse: provision the rest first"
    )
    parser.add_argument("--cleanup", metavar="PREFIX", help="drop a kept run's objects and exit")
    parser.add_argument("--label", default="", help="free text stored with the run")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    args.dsn = args.dsn or servers[args.server]
    if not args.dsn:
        parser.error("no DSN: run `make stack-up` (writes .state/stack.env) or pass --dsn")
    report = asyncio.run(main_async(args))
    if report is None:
        return
    runs = json.loads(args.out.read_text()) if args.out.exists() else []
    runs.append(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(runs, indent=2) + "\n")
    print_summary(report)
    print(f"\nappended to {args.out}")


if __name__ == "__main__":
    main()
