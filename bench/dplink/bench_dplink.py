"""DP-Link at scale: streams one process holds at 1 Hz, and health detection latency.

For each fleet size N (default 100, 500, 1,000) on a private Kafka topic:

1. N data planes: real agent Link servers with their own mTLS certificates, in fleet
   processes of at most 250 (``bench/dplink/fleet.py``), heartbeating every second;
   ``--victims`` of them live in a fleet process of their own;
2. N ``ClusterRegistered`` events, then ONE real DP-Link process (``python -m
   jetbridge.dplink``, default thresholds: DEGRADED after 3 s of silence, UNREACHABLE
   after 10 s) dials them all; the clock runs until every cluster is HEALTHY;
3. steady state: DP-Link's own CPU time (utime + stime from /proc) over ``--window``
   seconds, as a share of one core, and its RSS; any health change meanwhile is
   counted as spurious;
4. the victims' fleet is SIGKILLed; for each victim, the time from the kill to its
   DEGRADED and UNREACHABLE events (the event's own ``occurred_at``), against the
   threshold plus one heartbeat.

    .venv/bin/python bench/dplink/bench_dplink.py [--clusters 100 500 1000] [--window 30]

Results: printed, and written to ``bench/results/dplink.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from jetbridge.common.events import EventCodec, EventRecord, new_event
from jetbridge.common.kafka import EventPublisher
from jetbridge.common.settings import load_stack_settings
from jetbridge.common.tls import cluster_identity, ensure_certificates

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
FLEET = Path(__file__).with_name("fleet.py")
RESULTS = ROOT / "bench" / "results" / "dplink.json"
FLEET_SIZE = 250
HEARTBEAT_S, DEGRADED_S, UNREACHABLE_S = 1.0, 3.0, 10.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
CODEC = EventCodec()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def registered(cluster_id: str, port: int) -> EventRecord:
    return new_event(
        "ClusterRegistered",
        {
            "cluster_id": cluster_id,
            "name": cluster_id,
            "registered_at": int(time.time() * 1000),
            "failover_enabled": True,
            "endpoint": f"127.0.0.1:{port}",
            "certificate_identity": cluster_identity(cluster_id),
        },
        aggregate_type="Cluster",
        aggregate_id=cluster_id,
        producer="bench-dplink",
        schema_version=1,
    )


@contextlib.contextmanager
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    try:
        yield started
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.terminate()
        for proc in started:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def start_fleet(tls_dir: Path, ids: list[str]) -> tuple[subprocess.Popen[str], dict[str, int]]:
    proc = subprocess.Popen(
        [PY, str(FLEET), "--tls-dir", str(tls_dir), "--interval", str(HEARTBEAT_S), *ids],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"fleet of {len(ids)} exited with {proc.wait()} before listening")
    return proc, json.loads(line)["ports"]


class HealthWatch:
    """Follows ClusterHealthChanged on the topic: current health and each transition."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.health: dict[str, str] = {}
        self.transitions: list[tuple[str, str, float]] = []  # cluster, state, occurred_at
        self._consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
        )

    async def run(self) -> None:
        await self._consumer.start()
        try:
            while True:
                for batch in (await self._consumer.getmany(timeout_ms=100)).values():
                    for record in batch:
                        event = CODEC.decode(record.value)
                        if event.event_type != "ClusterHealthChanged":
                            continue
                        cluster, state = event.payload["cluster_id"], event.payload["current"]
                        self.health[cluster] = state
                        at = event.envelope.occurred_at.timestamp()
                        self.transitions.append((cluster, state, at))
        finally:
            await self._consumer.stop()

    def count(self, state: str, clusters: list[str]) -> int:
        return sum(1 for c in clusters if self.health.get(c) == state)

    async def until(self, state: str, clusters: list[str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.count(state, clusters) < len(clusters):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.count(state, clusters)} of {len(clusters)} clusters {state} "
                    f"after {timeout_s:.0f} s"
                )
            await asyncio.sleep(0.05)

    def first(self, cluster: str, state: str, after: float) -> float | None:
        times = [at for c, s, at in self.transitions if c == cluster and s == state and at >= after]
        return min(times) if times else None


async def one_size(bootstrap: str, n: int, victims: int, window: float) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    topic = f"bench-dplink-{run}"
    ids = [f"bench-{run}-{i:04d}" for i in range(n)]
    victim_ids, steady_ids = ids[:victims], ids[victims:]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 6, 1)])
    with tempfile.TemporaryDirectory(prefix="bench-dplink-") as tmp, processes() as procs:
        tls = ensure_certificates(Path(tmp), ids)
        ports: dict[str, int] = {}
        victim_fleet, victim_ports = start_fleet(tls.root, victim_ids)
        procs.append(victim_fleet)
        ports.update(victim_ports)
        for start in range(0, len(steady_ids), FLEET_SIZE):
            fleet, fleet_ports = start_fleet(tls.root, steady_ids[start : start + FLEET_SIZE])
            procs.append(fleet)
            ports.update(fleet_ports)
        async with EventPublisher(bootstrap, client_id="bench-dplink") as publisher:
            await publisher.publish_many_to(topic, [registered(c, ports[c]) for c in ids])

        watch = HealthWatch(bootstrap, topic)
        watching = asyncio.create_task(watch.run())
        env = {
            **os.environ,
            "JETBRIDGE_DPLINK_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "JETBRIDGE_DPLINK_GROUP_ID": f"bench-dplink-{run}",
            "JETBRIDGE_DPLINK_REGISTRATION_TOPIC": topic,
            "JETBRIDGE_DPLINK_EVENTS_TOPIC": topic,
            "JETBRIDGE_DPLINK_TLS_DIR": str(tls.root),
            "JETBRIDGE_DPLINK_LOG_LEVEL": "WARNING",
        }
        began = time.monotonic()
        # Popen returns at once; the process is only polled and signalled from here.
        dplink = subprocess.Popen([PY, "-m", "jetbridge.dplink"], env=env, cwd=ROOT)  # noqa: ASYNC220
        procs.append(dplink)
        try:
            await watch.until("HEALTHY", ids, timeout_s=60 + n / 10)
            all_healthy_s = time.monotonic() - began

            await asyncio.sleep(5)  # settle: connection set-up is done, only heartbeats now
            transitions_before = len(watch.transitions)
            cpu0, t0 = cpu_seconds(dplink.pid), time.monotonic()
            await asyncio.sleep(window)
            cpu_share = (cpu_seconds(dplink.pid) - cpu0) / (time.monotonic() - t0)
            rss = rss_mib(dplink.pid)
            spurious = len(watch.transitions) - transitions_before

            killed_at = time.time()
            victim_fleet.send_signal(signal.SIGKILL)
            await watch.until("UNREACHABLE", victim_ids, timeout_s=UNREACHABLE_S + 20)
            degraded = [watch.first(c, "DEGRADED", killed_at) for c in victim_ids]
            unreachable = [watch.first(c, "UNREACHABLE", killed_at) for c in victim_ids]
            to_degraded = [t - killed_at for t in degraded if t is not None]
            to_unreachable = [t - killed_at for t in unreachable if t is not None]
            others_fine = watch.count("HEALTHY", steady_ids)
        finally:
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching
    # After the processes are gone: a live DP-Link would log the topic's deletion.
    await admin.delete_topics([topic])
    await admin.close()
    return {
        "clusters": n,
        "all_healthy_s": round(all_healthy_s, 2),
        "steady_window_s": window,
        "dplink_cpu_share_of_one_core": round(cpu_share, 3),
        "dplink_rss_mib": round(rss, 1),
        "spurious_transitions_in_window": spurious,
        "victims": victims,
        "kill_to_degraded_s": {
            "p50": round(statistics.median(to_degraded), 3),
            "p99": round(percentile(to_degraded, 0.99), 3),
            "max": round(max(to_degraded), 3),
            "bound": DEGRADED_S + HEARTBEAT_S,
        },
        "kill_to_unreachable_s": {
            "p50": round(statistics.median(to_unreachable), 3),
            "p99": round(percentile(to_unreachable, 0.99), 3),
            "max": round(max(to_unreachable), 3),
            "bound": UNREACHABLE_S + HEARTBEAT_S,
        },
        "steady_clusters_still_healthy": others_fine,
    }


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    bootstrap = load_stack_settings().kafka_bootstrap_servers
    results = []
    for n in args.clusters:
        result = await one_size(bootstrap, n, args.victims, args.window)
        result["load_average_after"] = round(os.getloadavg()[0], 1)
        print(json.dumps(result), flush=True)
        results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, nargs="+", default=[100, 500, 1000])
    parser.add_argument("--victims", type=int, default=20)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results = asyncio.run(main_async(args))
    machine = {
        "cores": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "started": started,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine, "runs": results}, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
