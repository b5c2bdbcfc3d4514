"""The demo's world: a private topic set, databases, certificates, facts files and the
service processes (each its own OS process, logged to ``.state/logs/demo/<name>.log``).

Why a topic prefix per run: the event log keeps events forever, so a second run on
the shared broker would otherwise fold the first run's clusters and Deployments.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord
from ports import free_port

from jetbridge.common import topics
from jetbridge.common.kafka.acls import plane_acls
from jetbridge.common.kafka.enrol import create_topics as create_run_topics
from jetbridge.common.kafka.enrol import delete_acls, enrol, reports_topics
from jetbridge.fencing.quoting import pg_ident

ROOT = Path(__file__).resolve().parents[2]
PY = str(ROOT / ".venv" / "bin" / "python")
CLUSTERS = ("dp-east", "dp-west")


def read_env_file(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def with_path(dsn: str, database: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{database}"))


async def create_topics(bootstrap: str, prefix: str) -> None:
    """The run's topics, each cluster's reports topic and the planes' ACLs on them
    (``bootstrap`` is the PLAINTEXT listener, whose principal is the broker's super user)."""
    await create_run_topics(bootstrap, prefix, topics.topic_specs(), security={})
    await enrol(bootstrap, prefix, CLUSTERS, security={})


async def delete_topics(bootstrap: str, prefix: str) -> None:
    await delete_acls(bootstrap, plane_acls(prefix, CLUSTERS), security={})
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        every = [*topics.topic_specs(), *reports_topics(CLUSTERS)]
        await admin.delete_topics([prefix + s.name for s in every])
    finally:
        await admin.close()


async def read_topic(bootstrap: str, topic: str) -> list[ConsumerRecord]:
    """Every record of ``topic``, from its start to the end offsets it has now."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        for _ in range(200):
            if consumer.assignment():
                break
            await asyncio.sleep(0.05)
        else:
            raise RuntimeError(f"no partitions of {topic} assigned")
        end = await consumer.end_offsets(list(consumer.assignment()))
        records: list[ConsumerRecord] = []
        while [tp for tp, off in end.items() if await consumer.position(tp) < off]:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records += batch
        return records
    finally:
        await consumer.stop()


@dataclass
class Databases:
    """The run's databases on the stack's PostgreSQL 15 (the customer's server too)."""

    superuser_dsn: str
    tag: str
    navigator: str = ""
    flightdecks: dict[str, str] = field(default_factory=dict)
    fencing_admin: str = ""

    @property
    def prefix(self) -> str:  # Deployment databases and roles start with it
        return f"{self.tag}_"

    @property
    def fencing_state(self) -> str:  # the Pilots' fencing epochs (dropped with the prefix's)
        return f"{self.tag}_jetbridge-fencing"

    async def create(self) -> None:
        su = await asyncpg.connect(self.superuser_dsn)
        try:
            names = {"navigator": f"{self.tag}_navigator"}
            names |= {c: f"{self.tag}_fd_{c.split('-')[-1]}" for c in CLUSTERS}
            for name in names.values():
                await su.execute(f"CREATE DATABASE {pg_ident(name)}")
            self.navigator = with_path(self.superuser_dsn, names["navigator"])
            self.flightdecks = {c: with_path(self.superuser_dsn, names[c]) for c in CLUSTERS}
            # Fencing runs as a non-superuser that may create roles and databases.
            role, password = f"pilot_{self.tag}", secrets.token_urlsafe(16)
            await su.execute(
                f"CREATE ROLE {pg_ident(role)} LOGIN CREATEROLE CREATEDB PASSWORD '{password}'"
            )
            parts = urlsplit(self.superuser_dsn)
            netloc = f"{quote(role)}:{quote(password)}@{parts.hostname}:{parts.port}"
            self.fencing_admin = urlunsplit((parts.scheme, netloc, "/postgres", "", ""))
        finally:
            await su.close()

    async def drop(self) -> None:
        su = await asyncpg.connect(self.superuser_dsn)
        try:
            for (db,) in await su.fetch(
                "SELECT datname FROM pg_database WHERE datname LIKE $1", f"{self.tag}_%"
            ):
                await su.execute(f"DROP DATABASE IF EXISTS {pg_ident(db)} WITH (FORCE)")
            for (role,) in await su.fetch(
                "SELECT rolname FROM pg_roles WHERE rolname LIKE $1", f"{self.tag}_%"
            ):
                await su.execute(f"DROP ROLE IF EXISTS {pg_ident(role)}")
            admin = f"pilot_{self.tag}"
            if await su.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", admin):
                await su.execute(f"DROP OWNED BY {pg_ident(admin)}")
                await su.execute(f"DROP ROLE {pg_ident(admin)}")
        finally:
            await su.close()


def facts_file(
    path: Path, store: str, store_ready: bool, enabled_at_ms: int, deployments: list[dict[str, Any]]
) -> Path:
    """What the agent reports in every heartbeat (the static facts source reads it)."""
    path.write_text(
        json.dumps(
            {
                "jetbridge_version": "2.0.0",
                "plane_mode": "DATA",
                "external_secrets_enabled": True,
                "external_secret_manager_name": "aws-secrets-manager",
                "cluster_secret_store": {
                    "name": store,
                    "ready": store_ready,
                    "authenticated": store_ready,
                    "message": "Valid" if store_ready else "not ready",
                },
                "failover_enabled": True,
                "failover_enabled_at_ms": enabled_at_ms,
                "deployments": deployments,
                "log_sink_configured": True,
                "database_endpoint_status": "PRIMARY",
            },
            indent=1,
        )
    )
    return path


@dataclass
class Service:
    name: str
    args: list[str]
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None


class Processes:
    """Every service as its own process; pids in ``<run>.pids.json`` (two demos may run
    at once: logs are appended JSON lines, so they interleave by time); all stopped on
    exit."""

    def __init__(self, log_dir: Path, run: str) -> None:
        self.log_dir = log_dir
        self.pid_file = log_dir / f"{run}.pids.json"
        # docs/observability.md: one span file and one /metrics port per service
        self.trace_dir = log_dir / f"{run}.traces"
        self.metrics_ports: dict[str, int] = {}
        log_dir.mkdir(parents=True, exist_ok=True)
        self.services: dict[str, Service] = {}

    def start(self, name: str, module: str, env: dict[str, str]) -> Service:
        full = {k: v for k, v in os.environ.items() if not k.startswith("JETBRIDGE_")}
        port = self.metrics_ports.setdefault(name, free_port())  # a restart keeps it
        full |= env | {
            "PYTHONUNBUFFERED": "1",
            "JETBRIDGE_TRACE_FILE": str(self.trace_dir / f"{name}.jsonl"),
            "JETBRIDGE_METRICS_PORT": str(port),
        }
        log = (self.log_dir / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [PY, "-m", module],
            cwd=ROOT,
            env=full,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.services[name] = Service(name, [module], env, proc, log)
        self._write_pids()
        return self.services[name]

    def restart(self, name: str, env: dict[str, str] | None = None) -> None:
        old = self.services[name]
        self.stop(name)
        self.start(name, old.args[0], env or old.env)

    def dead(self) -> list[str]:
        return [n for n, s in self.services.items() if s.proc and s.proc.poll() is not None]

    def stop(self, name: str, grace_s: float = 8.0) -> None:
        service = self.services.pop(name)
        if service.proc and service.proc.poll() is None:
            service.proc.send_signal(signal.SIGTERM)
            try:
                service.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                service.proc.kill()
                service.proc.wait()
        if service.log:
            service.log.close()
        self._write_pids()

    def stop_all(self) -> None:
        """SIGTERM to every process at once (they stop in parallel), then wait for each."""
        for service in self.services.values():
            if service.proc and service.proc.poll() is None:
                service.proc.send_signal(signal.SIGTERM)
        for name in reversed(list(self.services)):
            self.stop(name)

    def _write_pids(self) -> None:
        pids = {n: s.proc.pid for n, s in self.services.items() if s.proc}
        if pids:
            self.pid_file.write_text(json.dumps(pids, indent=1))
        else:
            self.pid_file.unlink(missing_ok=True)


def wait_port(port: int, timeout_s: float = 60.0) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout_s}s")


__all__ = ["PY", "ROOT", "sys"]
