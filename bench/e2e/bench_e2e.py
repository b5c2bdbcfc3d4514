"""End-to-end failover benchmark: the whole world as real processes, timed from the
Console's ``POST /api/v1/failovers`` to the request's SUCCEEDED.

Each configuration (adapter, Deployments, mode, Pilot + Dispatcher instances) is one
fresh world built by ``deploy/local/demo.py``'s ``Demo``: private topics and
databases, every service its own process, both clusters registered and HEALTHY, N
Deployments provisioned on dp-east by real provisioning flights through the Pilot,
announced through the agent's heartbeats; then ONE failover dp-east -> dp-west
through the Console API (no running tasks: every metadata database has an empty
``task_instance``), timed; then checks: the request SUCCEEDED, every mission
SUCCEEDED, each flight step executed once (from ``jetbridge.flight.events``), and the
end state (real clusters: Ready on dp-west, gone from dp-east, roles fenced; in-memory
clusters: roles fenced, read from PostgreSQL).

``--adapter memory`` runs each Pilot with ``JETBRIDGE_PILOT_CLUSTER_ADAPTER=memory``:
each Pilot process holds its own cluster objects (the source Pilot provisions into its
own memory, which is exactly what it later drains and deletes; the destination Pilot
creates into its own), and the secret store is a directory both clusters' Pilots share.
Fencing, the drain's ``task_instance`` reads, Flightdeck, Kafka and every service stay
real, so what remains is the orchestration's own cost.

    .venv/bin/python bench/e2e/bench_e2e.py                      # the default matrix
    .venv/bin/python bench/e2e/bench_e2e.py --adapter memory --sizes 5 --modes FORCED \\
        --instances 1 --out /tmp/e2e.json --chart /tmp/e2e.png   # the smallest

Results: JSON (``--out``, default ``bench/results/e2e.json``) and a PNG chart
(``--chart``, default ``bench/results/e2e.png``); figures in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "deploy" / "local"), str(ROOT / "deploy" / "local" / "kube")]
import kubestack  # noqa: E402
from batch_sizes import batch_totals, families, recheck_delta, recheck_totals  # noqa: E402
from batch_sizes import delta as batch_delta  # noqa: E402
from calibrate import calibrate  # noqa: E402
from demo import DEST, OUT, SOURCE, Demo, bring_up_stack, phase  # noqa: E402
from demo_world import Processes, read_env_file, read_topic  # noqa: E402
from executions import FlightEvent, tally  # noqa: E402
from kube_requests import delta as requests_delta  # noqa: E402
from kube_requests import served as api_server_served  # noqa: E402
from stack_cpu import StackCpuMeter, cpu_model  # noqa: E402

from jetbridge.common.events import EventCodec  # noqa: E402
from jetbridge.common.runtime import LOOPS  # noqa: E402
from jetbridge.common.settings import env_file_path  # noqa: E402
from jetbridge.common.topics import FLIGHT_EVENTS, reports_topic  # noqa: E402
from jetbridge.fencing.domain import DeploymentDatabases  # noqa: E402

CODEC = EventCodec()
ADAPTERS = ("memory", "kubernetes")
MODES = ("FORCED", "CONTROLLED")


@dataclass(frozen=True)
class Config:
    adapter: str
    deployments: int
    mode: str
    instances: int  # Pilots per cluster AND Dispatchers

    @property
    def name(self) -> str:
        return f"{self.adapter}-{self.deployments}-{self.mode.lower()}-x{self.instances}"


@dataclass
class CpuMeter:
    """utime + stime of every service process (``/proc/PID/stat``), in seconds."""

    ticks: float = float(os.sysconf("SC_CLK_TCK"))
    before: dict[str, float] = field(default_factory=dict)

    @staticmethod
    def _read(pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return float(int(fields[11]) + int(fields[12]))

    def sample(self, procs: Processes) -> dict[str, float]:
        return {n: self._read(s.proc.pid) / self.ticks for n, s in procs.services.items() if s.proc}


class BenchProcesses(Processes):
    """The demo's processes, with the benchmark's extra environment per service."""

    def __init__(self, log_dir: Path, run: str, extra: dict[str, dict[str, str]]) -> None:
        super().__init__(log_dir, run)
        self.extra = extra  # service name prefix -> env to add

    def start(self, name: str, module: str, env: dict[str, str]) -> Any:
        for prefix, more in self.extra.items():
            if name.startswith(prefix):
                env = {k: v for k, v in env.items() if v != ""} | more
                if (
                    "JETBRIDGE_PILOT_CLUSTER_ADAPTER" in more
                    and more["JETBRIDGE_PILOT_CLUSTER_ADAPTER"] == "memory"
                ):
                    env.pop("JETBRIDGE_PILOT_KUBECONFIG", None)
        return super().start(name, module, env)


class Profiler:
    """``py-spy record`` on every service process while the failover is timed.

    Writes collapsed stacks per service (``<dir>/<service>.folded``) and, per service,
    the functions with the most samples on top of the stack (self time) into the
    run's JSON: where each process spends its CPU, without instrumenting it.
    """

    def __init__(self, directory: Path, *, gil_only: bool = False) -> None:
        self.directory = directory
        # py-spy --gil: only threads holding the GIL, i.e. Python's own CPU. Without it
        # every thread is sampled, and a thread descheduled inside a syscall (a loopback
        # write that woke its reader) shows that syscall: wall time, not CPU.
        self.gil_only = gil_only
        self._running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, procs: Processes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        spy = str(Path(sys.executable).parent / "py-spy")
        for name, service in procs.services.items():
            if service.proc is None:
                continue
            self._running[name] = subprocess.Popen(
                [
                    spy,
                    "record",
                    "--nonblocking",
                    "--rate",
                    "100",
                    "--format",
                    "raw",
                    "--pid",
                    str(service.proc.pid),
                    "--output",
                    str(self._path(name)),
                    *(["--gil"] if self.gil_only else []),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    def stop(self) -> dict[str, list[tuple[str, int]]]:
        for spy in self._running.values():
            spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        for spy in self._running.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                spy.wait(timeout=30)
        return {name: self.top(self._path(name)) for name in self._running}

    def _path(self, name: str) -> Path:
        return self.directory / f"{name}.folded"

    @staticmethod
    def top(path: Path, n: int = 12) -> list[tuple[str, int]]:
        """The ``n`` leaf frames with the most samples (idle ones included, named)."""
        leaves: Counter[str] = Counter()
        with contextlib.suppress(OSError):
            for line in path.read_text().splitlines():
                stack, _, count = line.rpartition(" ")
                if stack and count.isdigit():
                    leaves[stack.rsplit(";", 1)[-1]] += int(count)
        return leaves.most_common(n)


class E2EBench(Demo):
    producer = "bench-e2e"

    def __init__(self, args: argparse.Namespace, env: dict[str, str], config: Config) -> None:
        args.deployments = config.deployments
        super().__init__(args, env)
        self.config = config
        # kwok marks 500 pods Ready slowly on a loaded machine: 120 s was too short
        self.provision_step_deadline_s = args.provision_deadline
        self.tag = self.tag.replace("demo", "e2e")
        self.deployments = [d.replace("demo", "e2e", 1) for d in self.deployments]
        self.prefix = f"{self.tag}."
        self.dbs.tag = self.tag
        self.state = ROOT / ".state" / "e2e" / self.tag
        extra: dict[str, dict[str, str]] = {
            "pilot-": {
                "JETBRIDGE_PILOT_MAX_FLIGHTS": str(args.pilot_slots),
                "JETBRIDGE_PILOT_CLUSTER_ADAPTER": config.adapter,
            }
        }
        if args.event_loop is not None:  # every service (the empty prefix matches all)
            extra[""] = {"JETBRIDGE_EVENT_LOOP": args.event_loop}
        extra["dispatcher"] = {
            # "false": one gRPC call per flight, as before the batch calls (A/B runs)
            "JETBRIDGE_DISPATCHER_BATCH_CALLS": str(args.dispatcher_batch_calls).lower()
        }
        if args.dispatcher_concurrency is not None:  # 1: the serial Dispatcher, for A/B runs
            extra["dispatcher"]["JETBRIDGE_DISPATCHER_CONCURRENCY"] = str(
                args.dispatcher_concurrency
            )
        if config.adapter == "memory":
            extra["pilot-"]["JETBRIDGE_PILOT_MEMORY_SECRET_STORE_DIR"] = str(
                self.state / "secret-store"
            )
            # The clusters are paused for the timed failover: the agents report the
            # store as the facts file states it instead of reading it from them.
            extra["agent-"] = {"JETBRIDGE_AGENT_SECRET_STORE": ""}
        self.procs = BenchProcesses(ROOT / ".state" / "logs" / "e2e", self.tag, extra)
        self.cpu = CpuMeter()
        state_dir = Path(env.get("JETBRIDGE_STATE_DIR") or ROOT / ".state")
        self.stack_cpu = StackCpuMeter(state_dir)
        # The API servers' request counters, read around a real-cluster failover.
        self.api_servers = (
            {p.parent.name: p for p in sorted((state_dir / "kube").glob("*/kubeconfig"))}
            if config.adapter == "kubernetes"
            else {}
        )
        self.profiler = (
            Profiler(Path(args.profile) / config.name, gil_only=args.profile_gil)
            if args.profile
            else None
        )

    # --- the world ------------------------------------------------------------------
    def start_services(self) -> None:
        super().start_services()
        for i in range(2, self.config.instances + 1):  # scale-out: same group, same deck
            for name in ("dispatcher", f"pilot-{SOURCE}", f"pilot-{DEST}"):
                first = self.procs.services[name]
                env = dict(first.env)
                if name.startswith("pilot-"):
                    env["JETBRIDGE_PILOT_OWNER"] = f"{name}-{i}"
                self.procs.start(f"{name}-{i}", first.args[0], env)

    async def announce(self) -> None:
        if self.config.adapter == "kubernetes":
            await super().announce()
            return
        # In memory, the objects live in the source Pilot(s): every provisioning flight
        # SUCCEEDED (provision() checked), so each Deployment is live on dp-east.
        phase(f"{SOURCE} agent reports the inventory in its heartbeats; DeploymentCreated facts")
        self.source_dsns = {}
        await self.announce_inventory(list(self.deployments), ready_timeout_s=120)

    # --- the timed failover ----------------------------------------------------------
    async def timed_failover(self) -> dict[str, Any]:
        """POST -> SUCCEEDED; polls the light summary list, reads the detail once."""
        mode = self.config.mode
        phase(f"{mode.title()} failover {SOURCE} -> {DEST} of {len(self.deployments)} (timed)")
        body: dict[str, Any] = {
            "source_cluster_id": SOURCE,
            "destination_cluster_id": DEST,
            "mode": mode,
            "drain_timeout_seconds": 60,
        }
        if mode == "FORCED":
            body["confirm_forced"] = True
        loads = [os.getloadavg()[0]]
        if self.profiler:
            self.profiler.start(self.procs)
            await asyncio.sleep(1.0)  # py-spy attaches before the clock starts
        served0 = {name: api_server_served(path) for name, path in self.api_servers.items()}
        metrics0 = families(self.procs.metrics_ports)
        sessions0 = await server_sessions(self.dbs.superuser_dsn)
        cpu0, stack0 = self.cpu.sample(self.procs), self.stack_cpu.sample()
        t0 = time.monotonic()
        accepted = await self.api("POST", "/api/v1/failovers", json=body)
        request_id = self.request_id = accepted["subject_id"]
        if accepted.get("refusal"):
            raise RuntimeError(f"failover refused: {accepted}")
        limit = 300 + 2 * len(self.deployments)
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as client:
            auth = {"Authorization": f"Bearer {self.token}"}
            while True:
                r = await client.get("/api/v1/failovers", params={"limit": 5}, headers=auth)
                row = next((x for x in r.json() if x["request_id"] == request_id), None)
                if (
                    row
                    and row["ended_at"] is not None
                    and row["status"]
                    not in (
                        "IN_PROGRESS",
                        "REQUESTED",
                    )
                ):
                    break
                if time.monotonic() - t0 > limit:
                    raise RuntimeError(f"failover not finished after {limit}s: {row}")
                if dead := self.procs.dead():
                    raise RuntimeError(f"{dead} stopped during the failover")
                loads.append(os.getloadavg()[0])
                await asyncio.sleep(0.2)
        wall = time.monotonic() - t0
        cpu1, stack1 = self.cpu.sample(self.procs), self.stack_cpu.sample()
        loads.append(os.getloadavg()[0])
        profile = self.profiler.stop() if self.profiler else None
        # Backends report their session counts when idle, at most once a second (later
        # under contention): wait that out, then count (this probe's own taken off).
        await asyncio.sleep(1.1)
        sessions = await server_sessions(self.dbs.superuser_dsn) - sessions0 - 1
        metrics1 = families(self.procs.metrics_ports)
        batches = batch_delta(batch_totals(metrics0), batch_totals(metrics1))
        rechecks = recheck_delta(recheck_totals(metrics0), recheck_totals(metrics1))
        served1 = {name: api_server_served(path) for name, path in self.api_servers.items()}
        served = {
            measure: {
                name: {
                    key: round(value, 3)
                    for key, value in requests_delta(served0[name][measure], after[measure]).items()
                }
                for name, after in served1.items()
            }
            for measure in ("requests", "seconds", "response_bytes")
        }
        detail = await self.api("GET", f"/api/v1/failovers/{request_id}")
        detail["wall_s"] = wall
        detail["_cpu"] = {n: round(cpu1.get(n, 0.0) - cpu0.get(n, 0.0), 2) for n in cpu1}
        detail["_stack_cpu"] = StackCpuMeter.delta(stack0, stack1)
        detail["_kube_requests"] = served
        detail["_load"] = {"start": loads[0], "max": max(loads), "end": loads[-1]}
        detail["_batches"] = batches
        detail["_wait_rechecks"] = rechecks
        detail["_sessions"] = sessions
        if profile is not None:
            detail["_profile"] = profile
        return detail

    async def cleanup(self) -> None:
        if self.config.adapter == "memory":  # nothing of this run is on the real clusters
            self.deployments = []
        await super().cleanup()

    # --- checks ----------------------------------------------------------------------
    async def execution_counts(self) -> dict[str, Any]:
        """Each failover flight's steps executed once, read from the flight reports (the
        Dispatcher's on flight.events, each data plane's on its own topic)."""
        records = []
        for topic in (FLIGHT_EVENTS, *(reports_topic(c) for c in (SOURCE, DEST))):
            records += await read_topic(self.kafka, self.prefix + topic)
        decoded = (CODEC.decode(r.value) for r in records)
        return tally(FlightEvent(e.event_id, e.event_type, e.payload) for e in decoded)

    async def roles_fenced(self) -> tuple[bool, str]:
        """Side A (dp-east) may no longer log in, side B (dp-west) may, per pg_roles."""
        su = await asyncpg.connect(self.dbs.superuser_dsn)
        try:
            rows = await su.fetch(
                "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE $1",
                f"{self.tag}_%",
            )
        finally:
            await su.close()
        login = {r["rolname"]: r["rolcanlogin"] for r in rows}
        bad = []
        for d in self.deployments:
            names = DeploymentDatabases.named(d, prefix=self.dbs.prefix)
            if login.get(names.role_a) is not False or login.get(names.role_b) is not True:
                bad.append(d)
        return not bad, ", ".join(bad[:5])

    async def cleanups_done(self, detail: dict[str, Any]) -> tuple[float | None, dict[str, Any]]:
        """Seconds after the end until no mission's source clean-up is PENDING (None: one
        still was at the limit); the detail as last read."""
        t0, limit = time.monotonic(), 120 + len(self.deployments)
        while any(m.get("cleanup") == "PENDING" for m in detail["missions"]):
            if time.monotonic() - t0 > limit:
                return None, detail
            await asyncio.sleep(0.5)
            detail = await self.api("GET", f"/api/v1/failovers/{detail['request_id']}")
        return round(time.monotonic() - t0, 1), detail

    async def check(self, detail: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The checks, and the detail as last read (after the source clean-ups)."""
        missions = detail["missions"]
        ok_missions = sum(1 for m in missions if m["status"] == "SUCCEEDED")
        checks: dict[str, Any] = {
            "request_succeeded": detail["status"] == "SUCCEEDED",
            "missions_succeeded": ok_missions == len(self.deployments),
        }
        # A Forced request succeeds before its source clean-ups end (the product's
        # rule); "gone from the source" and the flights' claims are only checkable once
        # they have.
        checks["cleanup_s"], detail = await self.cleanups_done(detail)
        if self.config.adapter == "kubernetes":
            checks["end_state_verified"] = await self.verify(detail)
        else:
            fenced, why = await self.roles_fenced()
            checks["roles_fenced"] = fenced
            checks["roles_fenced_detail"] = why
        # Read after the clean-ups: their flights report until they end.
        checks |= await self.execution_counts()
        return checks, detail


def step_profile(detail: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per step name: how many, median and max duration, summed seconds (from the API)."""
    by: dict[str, list[float]] = defaultdict(list)
    for m in detail["missions"]:
        for f in m["flights"]:
            for s in f["steps"]:
                if s.get("duration_ms") is not None:
                    by[f"{f['kind']}/{s['name']}"].append(s["duration_ms"] / 1000)
    out = {}
    for name, xs in sorted(by.items()):
        xs.sort()
        out[name] = {
            "n": len(xs),
            "p50_s": round(xs[len(xs) // 2], 3),
            "max_s": round(xs[-1], 3),
            "sum_s": round(sum(xs), 2),
        }
    return out


def mission_spread(detail: dict[str, Any], t0_ms: int) -> dict[str, float]:
    """When missions started and ended, seconds after the request started."""
    starts = [m["started_at"] for m in detail["missions"] if m.get("started_at")]
    ends = [m["ended_at"] for m in detail["missions"] if m.get("ended_at")]
    durs = sorted((m["duration_ms"] or 0) / 1000 for m in detail["missions"])
    if not starts or not ends:
        return {}
    return {
        "first_mission_start_s": round((min(starts) - t0_ms) / 1000, 3),
        "last_mission_start_s": round((max(starts) - t0_ms) / 1000, 3),
        "first_mission_end_s": round((min(ends) - t0_ms) / 1000, 3),
        "last_mission_end_s": round((max(ends) - t0_ms) / 1000, 3),
        "mission_p50_s": round(durs[len(durs) // 2], 3),
        "mission_max_s": round(durs[-1], 3),
    }


# More databases than a fresh stack has (its own few): kept runs (``--keep``) or a
# test's leftovers. PostgreSQL's idle work grows with the number of databases on the
# server (120 ms of CPU a second with 2,000, against 0.5 with none: docs/benchmarks.md,
# 2026-12-06 12:26), and it is counted in the run's figures.
LEFTOVER_DATABASES = 10


async def server_databases(superuser_dsn: str) -> int:
    """The PostgreSQL server's databases (templates aside), before a run makes its own."""
    return await _server_count(
        superuser_dsn, "SELECT count(*) FROM pg_database WHERE NOT datistemplate"
    )


async def server_sessions(superuser_dsn: str) -> int:
    """Sessions ever opened on the PostgreSQL server (``pg_stat_database.sessions``,
    this one's included): a new session costs the server 5.5-11 ms of CPU here
    (``pg_session_cost.py``), so the runs count the ones they open."""
    return await _server_count(
        superuser_dsn, "SELECT COALESCE(sum(sessions), 0) FROM pg_stat_database"
    )


async def _server_count(superuser_dsn: str, query: str) -> int:
    conn = await asyncpg.connect(superuser_dsn)
    try:
        return int(await conn.fetchval(query))
    finally:
        await conn.close()


async def one_run(args: argparse.Namespace, env: dict[str, str], config: Config) -> dict[str, Any]:
    bench = E2EBench(args, env, config)
    result: dict[str, Any] = {"config": config.name, **config.__dict__}
    result["pilot_slots"] = args.pilot_slots
    result["dispatcher_concurrency"] = args.dispatcher_concurrency or 64
    result["dispatcher_batch_calls"] = args.dispatcher_batch_calls
    result["event_loop"] = args.event_loop or "uvloop"
    result["started_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    result["loadavg_before"] = list(os.getloadavg())
    result["server_databases_before"] = await server_databases(bench.dbs.superuser_dsn)
    if result["server_databases_before"] > LEFTOVER_DATABASES:
        OUT.print(
            f"[yellow]warning[/]: {result['server_databases_before']} databases already on"
            " the PostgreSQL server (kept runs?): their idle cost is in this run's figures;"
            " drop them for figures comparable with docs/benchmarks.md"
        )
    try:
        t = time.monotonic()
        await bench.setup()
        await bench.register_clusters()
        result["setup_s"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        await bench.provision()
        result["provisioning_s"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        await bench.announce()
        await bench.create_task_tables()
        result["announce_s"] = round(time.monotonic() - t, 1)
        # How fast this machine ran Python just now (calibrate.py): runs minutes apart
        # differ by a quarter on this shared host, whatever the code.
        result["calibration"] = calibrate()
        pause = config.adapter == "memory" and not args.keep_clusters_running
        result["idle_clusters_paused"] = pause
        with clusters_paused(pause):
            detail = await bench.timed_failover()
        n = config.deployments
        nav_s = (detail["duration_ms"] or 0) / 1000
        result |= {
            "request_id": detail["request_id"],
            "status": detail["status"],
            "navigator_duration_s": nav_s,
            "wall_s": round(detail["wall_s"], 3),
            "deployments_per_s_navigator": round(n / nav_s, 2) if nav_s else None,
            "deployments_per_s_wall": round(n / detail["wall_s"], 2),
            "loadavg_during": detail["_load"],
            "cpu_s_by_service": detail["_cpu"],
            # PostgreSQL 15 and Kafka during the failover, and the machine's busy CPU
            # (everything, the kernel included): see stack_cpu.py
            "cpu_s_stack": detail["_stack_cpu"],
            # per cluster, "VERB resource": requests its API server served, the seconds
            # it spent answering them and the bytes of its answers (kube_requests.py)
            "kube_requests": detail["_kube_requests"]["requests"],
            "kube_request_seconds": detail["_kube_requests"]["seconds"],
            "kube_response_bytes": detail["_kube_requests"]["response_bytes"],
            "missions": mission_spread(detail, detail["requested_at"]),
            # calls per batch call, Dispatcher -> agents and agents -> Flightdeck
            "batches": detail["_batches"],
            # "cluster step cause": the Pilots' waits re-checked on a watch's event
            # (change), with none for 5 s (fallback), or polling (poll): docs/pilot.md
            "wait_rechecks": detail["_wait_rechecks"],
            "pg_sessions_during": detail["_sessions"],
        }
        if "_profile" in detail:
            result["profile_top_leaves"] = detail["_profile"]
        result["checks"], detail = await bench.check(detail)
        result["steps"] = step_profile(detail)  # the source clean-ups' steps included
        checks = result["checks"]
        result["ok"] = bool(
            checks["request_succeeded"]
            and checks["missions_succeeded"]
            and checks["no_double_execution"]
            and checks["cleanup_s"] is not None  # every source clean-up ended in time
            and checks.get("end_state_verified", checks.get("roles_fenced"))
        )
    except Exception as error:  # a run that breaks is recorded, the matrix goes on
        result["ok"] = False
        result["error"] = f"{type(error).__name__}: {error}"
        traceback.print_exc()
    finally:
        result["loadavg_after"] = list(os.getloadavg())
        t = time.monotonic()
        bench.procs.stop_all()
        if not args.keep:
            await bench.cleanup()
        result["teardown_s"] = round(time.monotonic() - t, 1)
    OUT.print(
        f"[bold]{config.name}[/]: {result.get('status')} nav {result.get('navigator_duration_s')}"
        f" s, wall {result.get('wall_s')} s, {result.get('deployments_per_s_wall')} Deployments/s,"
        f" ok={result['ok']} (load {result['loadavg_before'][0]:.1f})"
    )
    return result


@contextlib.contextmanager
def clusters_paused(pause: bool) -> Iterator[None]:
    """Freeze the idle local clusters for an in-memory failover, which never calls them.

    Idle, they keep about a quarter of a core busy (kubestack.pause): CPU the two cores
    would otherwise lend to the orchestration being measured. Resumed in any case."""
    if not pause:
        yield
        return
    paused = kubestack.pause()
    OUT.print(f"[dim]local clusters paused for the timed failover ({len(paused)} processes)[/]")
    try:
        yield
    finally:
        kubestack.resume()


def machine() -> dict[str, Any]:
    cpu = cpu_model()
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(mem_kb / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def chart(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib  # noqa: PLC0415 - only the chart needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    series: dict[tuple[str, str, int], list[tuple[int, float, float]]] = defaultdict(list)
    for r in results:
        if r.get("status") == "SUCCEEDED":
            key = (r["adapter"], r["mode"], r["instances"])
            series[key].append((r["deployments"], r["navigator_duration_s"], r["wall_s"]))
    for (adapter, mode, inst), pts in sorted(series.items()):
        pts.sort()
        xs = [p[0] for p in pts]
        style = "-o" if adapter == "memory" else "--s"
        label = f"{adapter}, {mode.lower()}, x{inst}"
        left.plot(xs, [p[2] for p in pts], style, label=label)
        right.plot(xs, [p[0] / p[2] for p in pts], style, label=label)
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xlabel("Deployments")
        ax.grid(True, which="both", alpha=0.3)
    left.set_yscale("log")
    left.set_ylabel("POST -> SUCCEEDED, wall (s)")
    left.axhline(10, color="grey", lw=0.8, ls=":")
    left.axhline(120, color="grey", lw=0.8, ls=":")
    right.set_ylabel("Deployments/s (wall)")
    right.axhline(100, color="grey", lw=0.8, ls=":")
    left.legend(fontsize=7)
    loads = [r["loadavg_before"][0] for r in results]
    fig.suptitle(
        f"Jetbridge end-to-end failover, {os.cpu_count()}-core machine, 1-minute load "
        f"average before the runs {min(loads):.1f}-{max(loads):.1f}"
        if loads
        else "Jetbridge end-to-end failover"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def configs(args: argparse.Namespace) -> list[Config]:
    out = [
        Config(a, n, m, i)
        for a in args.adapter
        for n in args.sizes
        for m in args.modes
        for i in args.instances
    ]
    out = [c for c in out if c.adapter == "memory" or c.deployments <= args.max_kube]
    for c in [
        c for c in out if c.adapter == "memory" and c.mode == "CONTROLLED" and c.instances > 1
    ]:
        # Each Pilot process holds its own in-memory cluster, and a Controlled
        # destination flight is parked and re-claimed between rounds, maybe by the
        # other Pilot, which never saw its namespace: UPSERT_DEPLOYMENT then fails
        # "namespace not found" (measured 2026-12-02). Not a valid configuration.
        OUT.print(f"[yellow]skipping {c.name}: in-memory clusters are per Pilot process[/]")
        out.remove(c)
    return out


def load_runs(out: Path) -> list[dict[str, Any]]:
    return list(json.loads(out.read_text()).get("runs", [])) if out.exists() else []


def save(out: Path, runs: list[dict[str, Any]], chart_path: Path) -> None:
    document = {"machine": machine(), "runs": runs}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=1) + "\n")
    chart(runs, chart_path)


async def main_async(args: argparse.Namespace) -> int:
    stack_env = env_file_path()  # .state/stack.env, or under $JETBRIDGE_STATE_DIR
    env = read_env_file(stack_env) if args.reuse_stack else bring_up_stack()
    out = Path(args.out)
    previous = load_runs(out) if args.append else []
    runs: list[dict[str, Any]] = []
    for config in configs(args):
        runs.append(await one_run(args, env, config))
        save(out, previous + runs, Path(args.chart))  # after every run
    OUT.print(f"results: {out}, chart: {args.chart}")
    return 0 if runs and all(r["ok"] for r in runs) else 1


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", nargs="+", choices=ADAPTERS, default=list(ADAPTERS))
    parser.add_argument("--sizes", nargs="+", type=int, default=[10, 100, 1000])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--instances", nargs="+", type=int, default=[1])
    parser.add_argument(
        "--max-kube", type=int, default=100, help="largest size run on the real clusters"
    )
    parser.add_argument("--pilot-slots", type=int, default=16, help="JETBRIDGE_PILOT_MAX_FLIGHTS")
    parser.add_argument(
        "--dispatcher-concurrency",
        type=int,
        help="JETBRIDGE_DISPATCHER_CONCURRENCY (default: the service's, 64; 1 = serial)",
    )
    parser.add_argument(
        "--no-batch-calls",
        dest="dispatcher_batch_calls",
        action="store_false",
        help="JETBRIDGE_DISPATCHER_BATCH_CALLS=false: one gRPC call per flight",
    )
    parser.add_argument(
        "--provision-deadline", type=int, default=600, help="seconds per provisioning step"
    )
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "e2e.json"))
    parser.add_argument("--chart", default=str(ROOT / "bench" / "results" / "e2e.png"))
    parser.add_argument("--append", action="store_true", help="keep the runs already in --out")
    parser.add_argument("--keep", action="store_true", help="keep each run's data")
    parser.add_argument(
        "--profile", metavar="DIR", help="py-spy every service during the timed failover"
    )
    parser.add_argument(
        "--profile-gil",
        action="store_true",
        help="with --profile: sample only threads holding the GIL (Python CPU, no waits)",
    )
    parser.add_argument(
        "--event-loop",
        choices=LOOPS,
        help="JETBRIDGE_EVENT_LOOP for every service (default: the services' own, uvloop)",
    )
    parser.add_argument(
        "--keep-clusters-running",
        action="store_true",
        help="in memory: leave the idle local clusters running during the timed failover",
    )
    parser.add_argument(
        "--reuse-stack",
        action="store_true",
        help="the stack is up: read .state/stack.env instead of running stack.py up",
    )
    args = parser.parse_args(argv)
    args.port = 0
    args.exit_when_done = True
    return args


def main() -> None:
    sys.exit(asyncio.run(main_async(parse())))


if __name__ == "__main__":
    main()
