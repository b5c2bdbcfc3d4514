"""`make demo`: a Controlled failover of N Airflow Deployments on the local stack.

Every service runs as its own process (navigator, projections, dplink, dispatcher,
console; an agent and a pilot per data-plane cluster). The demo registers both
clusters, provisions N image-based Deployments on dp-east through provisioning
flights, gives some of them running tasks, starts the failover through the Console
API as an operator, and verifies the end state on the real systems.

    .venv/bin/python deploy/local/demo.py [--deployments N] [--exit-when-done]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_world import (
    CLUSTERS,
    PY,
    ROOT,
    Databases,
    Processes,
    create_topics,
    delete_topics,
    facts_file,
    read_env_file,
    wait_port,
)
from layout import Layout
from ports import free_port, reserve

from jetbridge.common.events import new_event
from jetbridge.common.images import qualified
from jetbridge.common.kafka import EventPublisher
from jetbridge.common.sql.dsn import server_endpoint
from jetbridge.common.tls import cluster_identity, ensure_certificates
from jetbridge.fencing.domain import DeploymentDatabases
from jetbridge.flightdeck import Flight, Flightdeck, FlightState, NewFlight, Side, open_flightdeck
from jetbridge.pilot.adapters.kube_cluster import KubernetesCluster
from jetbridge.pilot.domain.airflow import DeploymentSpec
from jetbridge.pilot.service_layer.steps_cluster import deployment_ready

OUT = Console(highlight=False)
# The Deployments' image as the control plane records it: bare, so the installation's
# one registry (the Navigator's and Console's JETBRIDGE_REGISTRY) serves it.
IMAGE = "apache/airflow:3.0.2"
REGISTRY = "registry.jetbridge.local"
# Navigator settings a run may take from its own environment (chaos: frequent snapshots).
NAVIGATOR_TUNING = ("JETBRIDGE_NAVIGATOR_SNAPSHOT_EVERY",)
# ... and projection settings (benchmarks: the read model's linger, docs/benchmarks.md).
PROJECTIONS_TUNING = ("JETBRIDGE_PROJECTIONS_LINGER_MS",)
# Mission states of a read model that has not caught up with the request's end yet.
LIVE = frozenset({"CREATED", "RUNNING"})
SOURCE, DEST = CLUSTERS
# Each cluster's login role of every Deployment (the Pilot's side; the agent reports it).
DATABASE_SIDES = {SOURCE: "A", DEST: "B"}
PROVISION_STEPS = (
    "CREATE_NAMESPACE",
    "APPLY_EXTERNAL_SECRETS",
    "FENCE_DATABASE",
    "UPSERT_DEPLOYMENT",
    "WAIT_READY",
)


def phase(text: str) -> None:
    OUT.print(f"[bold cyan]==>[/] {text}")


def bring_up_stack() -> dict[str, str]:
    """stack.py up starts (or reuses) Kafka, both PostgreSQL, MariaDB AND the two
    Kubernetes data planes with the shared secrets store (deploy/local/kube)."""
    phase("local stack: Kafka, PostgreSQL, MariaDB, Kubernetes dp-east + dp-west, secrets store")
    subprocess.run([PY, "deploy/local/stack.py", "up"], cwd=ROOT, check=True)
    return read_env_file(Layout.from_env().env_file)


# Every Deployment's configuration (replicas, cpu, memory per component), set when it is
# created and announced with it; the verification reads it back from the destination. It
# differs from the Pilot's defaults (1, 100m, 256Mi) in resources, not in pod count, so
# the benchmarks' clusters run as many pods as before.
CONFIGURATION = {"scheduler": (1, "250m", "512Mi"), "worker": (1, "500m", "1Gi")}


def configuration_entries() -> list[dict[str, Any]]:
    return [
        {"name": name, "replicas": replicas, "cpu": cpu, "memory": memory}
        for name, (replicas, cpu, memory) in CONFIGURATION.items()
    ]


def provisioning(deployment_id: str, step_deadline_s: int = 120) -> NewFlight:
    """Creating a failover-enabled Deployment on its home cluster is an ungated flight."""
    params = {
        # The demo creates Deployments as the control plane would: image qualified.
        "deployment_spec": {
            "deployment_id": deployment_id,
            "image": qualified(IMAGE, REGISTRY),
            "components": configuration_entries(),
        },
        "provision": True,
    }
    return NewFlight(
        flight_id=f"provision/{deployment_id}",
        mission_id=f"provision/{deployment_id}",
        request_id="provision",
        deployment_id=deployment_id,
        side=Side.SOURCE,
        mode="CONTROLLED",
        plan=[
            {"name": s, "deadline_seconds": step_deadline_s, "params": params}
            for s in PROVISION_STEPS
        ],
        fencing_epoch=0,
    )


class Demo:
    producer = "demo"  # the producer named in the events this driver publishes
    provision_step_deadline_s = 120  # each provisioning step's deadline
    # Seconds the failover may take beyond its own limit: a fault suite adds the time
    # the servers it restarted were away (bench/chaos).
    failover_extra_deadline_s = 0.0

    def __init__(self, args: argparse.Namespace, env: dict[str, str]) -> None:
        self.args = args
        self.env = env
        self.tag = f"demo{uuid.uuid4().hex[:6]}"
        self.prefix = f"{self.tag}."
        self.kafka = env["JETBRIDGE_KAFKA_BOOTSTRAP_SERVERS"]  # this driver's own clients
        # The services' listener: with --kafka-tls the broker's mutual-TLS one, where each
        # presents its plane's certificate (jetbridge.common.kafka.security).
        self.kafka_tls = bool(getattr(args, "kafka_tls", False))
        self.services_kafka = (
            env["JETBRIDGE_KAFKA_TLS_BOOTSTRAP_SERVERS"] if self.kafka_tls else self.kafka
        )
        self.dbs = Databases(env["JETBRIDGE_POSTGRES_DSN"], self.tag)
        self.state = ROOT / ".state" / "demo" / self.tag
        self.procs = Processes(ROOT / ".state" / "logs" / "demo", self.tag)
        self.deployments = [f"{self.tag}-af{i:03d}" for i in range(args.deployments)]
        self.token = uuid.uuid4().hex  # an operator's: starts and cancels failovers
        self.admin_token = uuid.uuid4().hex  # an admin's: registers the clusters
        self.console_port = reserve(args.port) if args.port else free_port()
        self.url = f"http://127.0.0.1:{self.console_port}"
        self.agent_ports = {c: free_port() for c in CLUSTERS}
        self.kubeconfigs = {
            c: env[f"JETBRIDGE_KUBE_{c.upper().replace('-', '_')}_KUBECONFIG"] for c in CLUSTERS
        }
        self.kube = {c: KubernetesCluster(c, Path(self.kubeconfigs[c])) for c in CLUSTERS}
        self.enabled_at = int(time.time() * 1000) - 60_000
        self.tasks_total = 0
        self.timed_out = 0
        self.picked: list[str] = []
        self.request_id = ""

    # --- set-up ------------------------------------------------------------------
    async def setup(self) -> None:
        phase(f"run {self.tag}: private topics {self.prefix}*, databases {self.tag}_*")
        await create_topics(self.kafka, self.prefix)
        await self.dbs.create()
        self.state.mkdir(parents=True, exist_ok=True)
        tls = self.tls = ensure_certificates(ROOT / ".state", list(CLUSTERS))
        self.tls_dir = str(tls.root)
        for dsn in self.dbs.flightdecks.values():
            deck = await open_flightdeck(dsn)  # migrates dp_flights
            await deck.close()
        for c in CLUSTERS:
            await self.write_facts(c, [])
        self.start_services()

    async def store_ready(self, cluster: str) -> bool:
        """The ClusterSecretStore's Ready condition, as the cluster reports it."""

        def read() -> Any:
            api = k8s_config.new_client_from_config(self.kubeconfigs[cluster])
            try:
                return k8s_client.CustomObjectsApi(api).get_cluster_custom_object(
                    "external-secrets.io",
                    "v1",
                    "clustersecretstores",
                    self.env["JETBRIDGE_CLUSTER_SECRET_STORE"],
                )
            finally:
                api.close()

        store = await asyncio.to_thread(read)
        conditions = ((store or {}).get("status") or {}).get("conditions") or []
        return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)

    async def write_facts(self, cluster: str, deployments: list[dict[str, Any]]) -> Path:
        return facts_file(
            self.state / f"facts-{cluster}.json",
            self.env["JETBRIDGE_CLUSTER_SECRET_STORE"],
            await self.store_ready(cluster),
            self.enabled_at,
            deployments,
        )

    def kafka_client_env(self, plane: str) -> dict[str, str]:
        """A service's Kafka security, as ``plane`` ("control-plane" or a cluster id)."""
        if not self.kafka_tls:
            return {}
        files = self.tls.control_plane() if plane == "control-plane" else self.tls.cluster(plane)
        return {
            "JETBRIDGE_KAFKA_SECURITY_PROTOCOL": "SSL",
            "JETBRIDGE_KAFKA_SSL_CAFILE": str(files.ca_cert),
            "JETBRIDGE_KAFKA_SSL_CERTFILE": str(files.cert),
            "JETBRIDGE_KAFKA_SSL_KEYFILE": str(files.key),
        }

    def start_services(self) -> None:
        p = self.prefix
        kafka = {"JETBRIDGE_KAFKA_BOOTSTRAP_SERVERS": self.services_kafka}
        kafka |= self.kafka_client_env("control-plane")
        if self.kafka_tls:
            tls = f"Kafka: every service over mutual TLS ({self.services_kafka})"
            phase(f"{tls}, each plane held to its ACLs")
        phase("control plane: navigator, projections, dplink, dispatcher, console")
        common = kafka | {
            "JETBRIDGE_TOPIC_PREFIX": p,
            "JETBRIDGE_NAVIGATOR_DSN": self.dbs.navigator,
            "JETBRIDGE_REGISTRY": REGISTRY,
        }
        # Tuning a run may set in its own environment (service environments are built
        # here, not inherited): the chaos runs take snapshots often this way.
        tuning = {k: os.environ[k] for k in NAVIGATOR_TUNING if k in os.environ}
        self.procs.start(
            "navigator",
            "jetbridge.navigator",
            common | {"JETBRIDGE_LEDGER_KEY": self.env["JETBRIDGE_LEDGER_KEY"]} | tuning,
        )
        self.procs.start(
            "projections",
            "jetbridge.navigator.projections",
            common | {k: os.environ[k] for k in PROJECTIONS_TUNING if k in os.environ},
        )
        self.procs.start(
            "dplink",
            "jetbridge.dplink",
            kafka
            | {
                "JETBRIDGE_DPLINK_KAFKA_BOOTSTRAP_SERVERS": self.services_kafka,
                "JETBRIDGE_DPLINK_GROUP_ID": f"{self.tag}-dplink",
                "JETBRIDGE_DPLINK_REGISTRATION_TOPIC": p + "jetbridge.cluster.events",
                "JETBRIDGE_DPLINK_EVENTS_TOPIC": p + "jetbridge.cluster.events",
                "JETBRIDGE_DPLINK_TLS_DIR": self.tls_dir,
            },
        )
        self.procs.start(
            "dispatcher",
            "jetbridge.dispatcher",
            kafka
            | {
                "JETBRIDGE_DISPATCHER_KAFKA_BOOTSTRAP_SERVERS": self.services_kafka,
                "JETBRIDGE_DISPATCHER_GROUP_ID": f"{self.tag}-dispatcher",
                "JETBRIDGE_DISPATCHER_WORK_TOPIC": p + "jetbridge.failover.events",
                "JETBRIDGE_DISPATCHER_STATE_TOPICS": (
                    f'["{p}jetbridge.failover.events", "{p}jetbridge.cluster.events"]'
                ),
                "JETBRIDGE_DISPATCHER_OUTCOMES_TOPIC": p + "jetbridge.flight.events",
                "JETBRIDGE_DISPATCHER_DEAD_LETTER_TOPIC": p + "jetbridge.deadletter",
                "JETBRIDGE_DISPATCHER_TLS_DIR": self.tls_dir,
            },
        )
        self.procs.start(
            "console",
            "jetbridge.console",
            kafka
            | {
                "JETBRIDGE_TOPIC_PREFIX": p,
                "JETBRIDGE_REGISTRY": REGISTRY,
                "JETBRIDGE_CONSOLE_PORT": str(self.console_port),
                "JETBRIDGE_CONSOLE_TOKENS": (
                    f"operator demo-operator {self.token}\nadmin demo-admin {self.admin_token}"
                ),
            },
        )
        phase("data planes: an agent (gRPC, mTLS) and a pilot per cluster")
        for c, side in DATABASE_SIDES.items():
            self.start_agent(c)
            self.procs.start(
                f"pilot-{c}",
                "jetbridge.pilot",
                {
                    "JETBRIDGE_PILOT_OWNER": f"pilot-{c}",
                    "JETBRIDGE_PILOT_CLUSTER_NAME": c,
                    "JETBRIDGE_PILOT_KUBECONFIG": self.kubeconfigs[c],
                    "JETBRIDGE_PILOT_FLIGHTDECK_DSN": self.dbs.flightdecks[c],
                    "JETBRIDGE_PILOT_DATABASE_ADMIN_DSN": self.dbs.fencing_admin,
                    # checked against the admin DSN at start; the agent reports it
                    "JETBRIDGE_PILOT_DATABASE_ENDPOINT": server_endpoint(self.dbs.fencing_admin),
                    "JETBRIDGE_PILOT_DATABASE_SIDE": side,
                    "JETBRIDGE_PILOT_DATABASE_PREFIX": self.dbs.prefix,
                    "JETBRIDGE_PILOT_FENCING_STATE_DATABASE": self.dbs.fencing_state,
                    "JETBRIDGE_PILOT_TASK_INSTANCES_DSN": self.dbs.superuser_dsn,
                    "JETBRIDGE_PILOT_SECRET_STORE": self.env["JETBRIDGE_CLUSTER_SECRET_STORE"],
                    "JETBRIDGE_PILOT_KAFKA_BOOTSTRAP_SERVERS": self.services_kafka,
                    "JETBRIDGE_PILOT_TOPIC_PREFIX": p,
                    "JETBRIDGE_PILOT_LEASE_SECONDS": "10",
                    "JETBRIDGE_PILOT_POLL_INTERVAL_S": "0.25",
                }
                | self.kafka_client_env(c),
            )
        wait_port(self.console_port)
        for port in self.agent_ports.values():
            wait_port(port)
        OUT.print(
            f"    spans: {self.procs.trace_dir}/<service>.jsonl; metrics: "
            + ", ".join(f"{n} :{p}" for n, p in self.procs.metrics_ports.items())
        )

    def start_agent(self, cluster: str) -> None:
        env = {
            "JETBRIDGE_AGENT_CLUSTER_ID": cluster,
            "JETBRIDGE_AGENT_LISTEN": f"127.0.0.1:{self.agent_ports[cluster]}",
            "JETBRIDGE_AGENT_FLIGHTDECK_DSN": self.dbs.flightdecks[cluster],
            "JETBRIDGE_AGENT_TLS_DIR": self.tls_dir,
            "JETBRIDGE_AGENT_FACTS_FILE": str(self.state / f"facts-{cluster}.json"),
            # The inventory as this run states it, not as the cluster lists it: runs,
            # demos and tests share the two local clusters, each its own world (topics,
            # databases), and a listing would show one world the others' namespaces.
            # tests/integration/kube/test_inventory_facts.py covers the listing.
            "JETBRIDGE_AGENT_INVENTORY_FROM": "facts",
            "JETBRIDGE_AGENT_DATABASE_SIDE": DATABASE_SIDES[cluster],
            "JETBRIDGE_AGENT_DATABASE_ENDPOINT": server_endpoint(self.dbs.fencing_admin),
            # The store's status as the cluster shows it, read every 10 s (the facts
            # file's is only what it was when the file was written).
            "JETBRIDGE_AGENT_SECRET_STORE": self.env["JETBRIDGE_CLUSTER_SECRET_STORE"],
            "JETBRIDGE_AGENT_KUBECONFIG": str(self.kubeconfigs[cluster]),
        }
        name = f"agent-{cluster}"
        if name in self.procs.services:
            self.procs.restart(name, env)
            wait_port(self.agent_ports[cluster])  # before anyone dispatches to it
        else:
            self.procs.start(name, "jetbridge.agent", env)

    # --- events the control plane learns from -------------------------------------
    async def publish(self, events: list[Any]) -> None:
        async with EventPublisher(self.kafka, client_id="demo", topic_prefix=self.prefix) as pub:
            await pub.publish_many_to(self.prefix + "jetbridge.cluster.events", events)

    async def register_clusters(self) -> None:
        phase("register both clusters through the API (admin): agent endpoint + identity")
        # The Console's port opens before it has reached Kafka and read the ledger.
        await self.until("the console to be ready", self.console_ready, 60)
        for c in CLUSTERS:
            body = {
                "cluster_id": c,
                "endpoint": f"127.0.0.1:{self.agent_ports[c]}",
                "certificate_identity": cluster_identity(c),
                "failover_enabled": True,
            }
            answer = await self.api("POST", "/api/v1/clusters", json=body, token=self.admin_token)
            if answer["refusal"] is not None:
                raise RuntimeError(f"registering {c} was refused: {answer['refusal']}")
        await self.until("both clusters HEALTHY in the console", self.clusters_healthy, 90)

    async def api(self, method: str, path: str, *, token: str | None = None, **kw: Any) -> Any:
        """The Console's API as the demo's operator (``token``: another identity's)."""
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as client:
            r = await client.request(
                method, path, headers={"Authorization": f"Bearer {token or self.token}"}, **kw
            )
            if r.status_code >= 400:
                raise RuntimeError(f"{method} {path}: {r.status_code} {r.text}")
            return r.json()

    async def console_ready(self) -> bool:
        try:
            return bool((await self.api("GET", "/api/v1/health"))["ready"])
        except (httpx.HTTPError, RuntimeError):
            return False

    async def clusters_healthy(self) -> bool:
        try:
            body = await self.api("GET", "/api/v1/clusters")
        except (httpx.HTTPError, RuntimeError):
            return False
        items = body if isinstance(body, list) else body.get("clusters", body.get("items", []))
        health = {c.get("cluster_id", c.get("id")): c.get("health") for c in items}
        return all(health.get(c) == "HEALTHY" for c in CLUSTERS)

    async def until(self, what: str, check: Any, timeout_s: float) -> None:
        end = time.monotonic() + timeout_s
        while not await check():
            if dead := self.procs.dead():
                raise RuntimeError(
                    f"{dead} stopped while waiting for {what}: see .state/logs/demo/"
                )
            if time.monotonic() > end:
                raise RuntimeError(f"timed out after {timeout_s}s waiting for {what}")
            await asyncio.sleep(0.5)

    # --- Deployments ------------------------------------------------------------
    async def provision(self) -> None:
        n = len(self.deployments)
        phase(f"create {n} image-based Airflow Deployments on {SOURCE} (provisioning flights)")
        deck = await open_flightdeck(self.dbs.flightdecks[SOURCE])
        try:
            deadline = self.provision_step_deadline_s
            await deck.enqueue_many([provisioning(d, deadline) for d in self.deployments])
            pending = [f"provision/{d}" for d in self.deployments]
            final: list[Flight] = []
            with self.progress() as bar:
                task = bar.add_task("provisioning", total=n)
                end = time.monotonic() + 120 + 6 * n
                while pending:
                    pending = await self._still_pending(deck, pending, final)
                    bar.update(task, completed=len(final))
                    if pending and (time.monotonic() > end or self.procs.dead()):
                        raise RuntimeError(f"provisioning not finished: {pending[:20]}...")
                    await asyncio.sleep(0.5 if pending else 0)
            failed = [f.flight_id for f in final if f.state is not FlightState.SUCCEEDED]
            if failed:
                raise RuntimeError(f"provisioning failed: {failed} (see pilot-{SOURCE}.log)")
        finally:
            await deck.close()

    @staticmethod
    async def _still_pending(
        deck: Flightdeck, pending: list[str], final: list[Flight], window: int = 64
    ) -> list[str]:
        """Move the finished flights of ``pending`` to ``final``. The Pilot claims in
        queue order, so the unfinished ones are at the front: the reads stop after
        ``window`` of them (a GET of all 1,000 twice a second cost more than the Pilot)."""
        left: list[str] = []
        for i, flight_id in enumerate(pending):
            if len(left) >= window:
                return left + pending[i:]
            flight = await deck.get(flight_id)
            if flight is not None and flight.state.is_final:
                final.append(flight)
            else:
                left.append(flight_id)
        return left

    async def announce(self) -> None:
        """The inventory reaches the control plane through the agent's heartbeats."""
        phase(f"{SOURCE} agent reports the inventory in its heartbeats; DeploymentCreated facts")
        live = [
            d
            for d in self.deployments
            if await self.kube[SOURCE].get("Namespace", None, DeploymentSpec(d, "").namespace)
        ]
        self.source_dsns = {d: await self.role_dsn(SOURCE, d, "a") for d in live}
        await self.announce_inventory(live)

    async def announce_inventory(self, live: list[str], ready_timeout_s: float = 90) -> None:
        """``live`` into the source agent's facts and as DeploymentCreated, then wait
        until the Console shows every Deployment failover-ready."""
        now = int(time.time() * 1000)
        facts = [
            {"id": d, "deploy_mechanism": "IMAGE", "created_at_ms": now, "image": IMAGE}
            for d in live
        ]
        await self.write_facts(SOURCE, facts)
        self.start_agent(SOURCE)  # the static facts source reads its file at start
        await self.publish(
            [
                new_event(
                    "DeploymentCreated",
                    {
                        "deployment_id": d,
                        "cluster_id": SOURCE,
                        "name": d,
                        "deploy_mechanism": "IMAGE",
                        "image": IMAGE,
                        "priority": len(live) - i,
                        "created_at": now,
                        "component_names": list(CONFIGURATION),
                        "component_replicas": [r for r, _, _ in CONFIGURATION.values()],
                        "component_cpu": [c for _, c, _ in CONFIGURATION.values()],
                        "component_memory": [m for _, _, m in CONFIGURATION.values()],
                    },
                    aggregate_type="Deployment",
                    aggregate_id=d,
                    producer=self.producer,
                    schema_version=2,
                )
                for i, d in enumerate(live)
            ]
        )

        async def ready() -> bool:
            try:
                rows = await self.api("GET", f"/api/v1/clusters/{SOURCE}/deployments")
            except (httpx.HTTPError, RuntimeError):
                return False
            ok = [r for r in rows if r["failover_ready"]]
            return len(ok) == len(self.deployments) and await self.clusters_healthy()

        await self.until("every Deployment failover-ready in the console", ready, ready_timeout_s)

    async def build(self) -> None:
        """The whole world up to the failover: services, clusters, Deployments, facts."""
        await self.setup()
        await self.register_clusters()
        await self.provision()
        await self.announce()

    async def create_task_tables(self) -> None:
        """Every metadata database gets Airflow's ``task_instance``, empty (nothing for a
        drain to wait for), eight databases at a time."""
        phase(f"{len(self.deployments)} metadata databases: empty task_instance")
        gate = asyncio.Semaphore(8)

        async def one(d: str) -> None:
            db = DeploymentDatabases.named(d, prefix=self.dbs.prefix).epoch_database
            async with gate:
                conn = await asyncpg.connect(self.dbs.superuser_dsn, database=db)
                try:
                    await conn.execute(
                        "CREATE TABLE IF NOT EXISTS task_instance"
                        " (task_id text PRIMARY KEY, state text)"
                    )
                finally:
                    await conn.close()

        await asyncio.gather(*(one(d) for d in self.deployments))

    async def running_tasks(self) -> list[tuple[str, str]]:
        """Airflow ``task_instance`` rows 'running' in a third of the metadata databases."""
        picked = self.deployments[::3] or self.deployments[:1]
        self.picked = picked
        phase(f"{len(picked)} Deployments get 2 running tasks each (task_instance rows)")
        out = []
        for d in self.deployments:
            db = DeploymentDatabases.named(d, prefix=self.dbs.prefix).epoch_database
            conn = await asyncpg.connect(self.dbs.superuser_dsn, database=db)
            try:  # the slice of Airflow's schema the drain reads
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS task_instance"
                    " (task_id text PRIMARY KEY, state text)"
                )
                for t in ("extract", "load") if d in picked else ():
                    await conn.execute("INSERT INTO task_instance VALUES ($1, 'running')", t)
                    out.append((db, t))
            finally:
                await conn.close()
        self.tasks_total = len(out)
        return out

    async def finish_later(self, db: str, tasks: list[str]) -> None:
        """Running tasks end 2-5 s after their Deployment's drain began."""
        await asyncio.sleep(random.uniform(2, 5))
        conn = await asyncpg.connect(self.dbs.superuser_dsn, database=db)
        try:
            await conn.execute(
                "UPDATE task_instance SET state = 'success' WHERE task_id = ANY($1)", tasks
            )
        finally:
            await conn.close()

    def drains_started(self, detail: dict[str, Any]) -> list[str]:
        out = []
        for m in detail["missions"]:
            for f in m["flights"]:
                for step in f["steps"] if f["kind"] == "SOURCE" else ():
                    if step["name"] == "DRAIN_TASKS" and step["started_at"] is not None:
                        out.append(m["deployment_id"])
        return out

    # --- the failover -------------------------------------------------------------
    def progress(self) -> Progress:
        return Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=OUT,
        )

    async def failover(
        self, tasks: list[tuple[str, str]], mode: str = "CONTROLLED", **policy: Any
    ) -> dict[str, Any]:
        phase(
            f"{mode.title()} failover {SOURCE} -> {DEST} through the Console API (operator token)"
        )
        OUT.print(f"    UI: [bold]{self.url}/[/]  (token: {self.token})")
        body: dict[str, Any] = {
            "source_cluster_id": SOURCE,
            "destination_cluster_id": DEST,
            "mode": mode,
            "drain_timeout_seconds": 60,
        }
        if mode == "FORCED":
            body["confirm_forced"] = True
        accepted = await self.api("POST", "/api/v1/failovers", json=body | policy)
        self.request_id = accepted["subject_id"]
        request_id = accepted["subject_id"]
        if accepted.get("status") in ("REJECTED",) or accepted.get("refusal"):
            raise RuntimeError(f"failover refused: {accepted}")
        OUT.print(f"    request {request_id}: {accepted.get('status')}")
        by_db: dict[str, list[str]] = {}
        for db, t in tasks:
            by_db.setdefault(db, []).append(t)
        finishers: dict[str, asyncio.Task[None]] = {}
        started = time.monotonic()
        with self.progress() as bar:
            steps = bar.add_task("flight steps", total=1)
            missions = bar.add_task("missions done", total=len(self.deployments))
            ended_at: float | None = None
            while True:
                try:
                    detail = await self.api("GET", f"/api/v1/failovers/{request_id}")
                except RuntimeError:
                    await asyncio.sleep(0.5)
                    continue
                for d in self.drains_started(detail):
                    db = DeploymentDatabases.named(d, prefix=self.dbs.prefix).epoch_database
                    if db in by_db and d not in finishers:
                        finishers[d] = asyncio.create_task(self.finish_later(db, by_db[db]))
                p = detail["progress"]
                bar.update(steps, total=max(1, p["steps_total"]), completed=p["steps_done"])
                bar.update(missions, completed=p["succeeded"] + p["failed"] + p["cancelled"])
                if detail["ended_at"] is not None and detail["status"] not in (
                    "IN_PROGRESS",
                    "REQUESTED",
                ):
                    # The read model folds each partition on its own, so the request's
                    # end can show before its last mission's (chaos seed 600 read a
                    # RUNNING mission under a SUCCEEDED request): give the missions'
                    # rows a moment to catch up before judging them.
                    ended_at = ended_at or time.monotonic()
                    unsettled = [m for m in detail["missions"] if m["status"] in LIVE]
                    if not unsettled or time.monotonic() - ended_at > 30:
                        break
                deadline_s = 300 + 10 * len(self.deployments) + self.failover_extra_deadline_s
                if time.monotonic() - started > deadline_s:
                    raise RuntimeError(f"failover not finished: {detail['status']}")
                if dead := self.procs.dead():
                    raise RuntimeError(f"{dead} stopped during the failover")
                await asyncio.sleep(0.5)
        await asyncio.gather(*finishers.values())
        detail["wall_s"] = time.monotonic() - started
        return detail

    def summary(self, detail: dict[str, Any]) -> None:
        phase(f"failover {detail['status']}: {detail['request_id']}")
        table = Table("Deployment", "mission", "duration", "drain")
        drained = 0
        for m in sorted(detail["missions"], key=lambda m: m["deployment_id"]):
            src = next((f for f in m["flights"] if f["kind"] == "SOURCE"), None)
            drain = next(
                (s for s in (src or {}).get("steps", []) if s["name"] == "DRAIN_TASKS"), None
            )
            left = (src or {}).get("tasks_still_running_after_drain")
            note = "" if drain is None else f"{(drain['duration_ms'] or 0) / 1000:.1f}s"
            if m["deployment_id"] in self.picked:
                note += f", waited for 2 tasks ({left} left)" if left else ", waited for 2 tasks"
            if left:
                self.timed_out += left
            table.add_row(
                m["deployment_id"], m["status"], f"{(m['duration_ms'] or 0) / 1000:.1f}s", note
            )
        OUT.print(table)
        total = (detail["duration_ms"] or 0) / 1000
        drained = self.tasks_total - self.timed_out
        OUT.print(
            f"total: {total:.1f}s by the Navigator's clock ({detail['wall_s']:.1f}s observed), "
            f"{len(detail['missions'])} Deployments, {drained} running tasks drained"
        )

    # --- verification -------------------------------------------------------------
    async def verify(self, detail: dict[str, Any]) -> bool:
        """The end state read from Kubernetes and PostgreSQL, not from our own events."""
        phase("verification (read from the clusters and the database server)")
        checks: list[tuple[str, bool, str]] = []
        checks.append(("failover SUCCEEDED", detail["status"] == "SUCCEEDED", detail["status"]))
        not_ready, unconfigured, left, fenced_bad, open_bad = [], [], [], [], []
        for d in self.deployments:
            spec = DeploymentSpec(d, "")
            if await self.kube[SOURCE].get("Namespace", None, spec.namespace) is not None:
                left.append(d)
            for c in spec.components:
                live = await self.kube[DEST].get(
                    "Deployment", spec.namespace, spec.deployment_name(c.name)
                )
                if live is None or not deployment_ready(live):
                    not_ready.append(f"{d}/{c.name}")
                elif c.name in CONFIGURATION and not configured_as_created(live, c.name):
                    unconfigured.append(f"{d}/{c.name}")
            # side A's credentials as dp-east mounted them before the failover
            if await can_connect(self.source_dsns.get(d, "")):
                fenced_bad.append(d)
            dest_dsn = await self.role_dsn(DEST, d, "b")
            if not dest_dsn or not await can_connect(dest_dsn):
                open_bad.append(d)
        n = len(self.deployments)
        checks.append(
            (f"{n}/{n} Deployments Ready on {DEST}", not not_ready, ", ".join(not_ready[:5]))
        )
        checks.append(
            (
                f"{n}/{n} with their configuration on {DEST} (replicas, cpu, memory)",
                not unconfigured,
                ", ".join(unconfigured[:5]),
            )
        )
        checks.append((f"{n}/{n} Deployments gone from {SOURCE}", not left, ", ".join(left[:5])))
        checks.append(
            (
                f"source role ({SOURCE}, side A) cannot connect",
                not fenced_bad,
                ", ".join(fenced_bad[:5]),
            )
        )
        checks.append(
            (
                f"destination role ({DEST}, side B) can connect",
                not open_bad,
                ", ".join(open_bad[:5]),
            )
        )
        finished = await self.tasks_finished() and not self.timed_out
        checks.append(
            (
                f"{self.tasks_total} running tasks drained (finished, no drain timed out)",
                finished,
                f"{self.timed_out} timed out",
            )
        )
        for name, ok, why in checks:
            mark = "[green]PASS[/]" if ok else "[red]FAIL[/]"
            OUT.print(f"VERIFY {mark} {name}" + (f" ({why})" if why and not ok else ""))
        return all(ok for _, ok, _ in checks)

    async def role_dsn(self, cluster: str, deployment: str, side: str) -> str:
        """The connection string a cluster mounts for one side's login role ('' if none)."""
        spec = DeploymentSpec(deployment, "")
        secret = await self.kube[cluster].get(
            "Secret", spec.namespace, spec.secret_name(f"metadata-{side}")
        )
        if secret is None:
            return ""
        return base64.b64decode(secret["data"]["connection"]).decode()

    async def tasks_finished(self) -> bool:
        """Drained: every source flight's drain completed with nothing still running."""
        for d in self.picked:
            db = DeploymentDatabases.named(d, prefix=self.dbs.prefix).epoch_database
            conn = await asyncpg.connect(self.dbs.superuser_dsn, database=db)
            try:
                if await conn.fetchval(
                    "SELECT count(*) FROM task_instance WHERE state <> 'success'"
                ):
                    return False
            finally:
                await conn.close()
        return True

    async def cleanup(self) -> None:
        for d in self.deployments:
            for c in CLUSTERS:
                with contextlib.suppress(Exception):
                    await self.kube[c].delete("Namespace", None, DeploymentSpec(d, "").namespace)
        with contextlib.suppress(Exception):
            await self.dbs.drop()
        with contextlib.suppress(Exception):
            await delete_topics(self.kafka, self.prefix)
        for k in self.kube.values():
            with contextlib.suppress(Exception):
                await k.close()


def configured_as_created(live: dict[str, Any], component: str) -> bool:
    """The component runs with the replicas and resources it was created with."""
    replicas, cpu, memory = CONFIGURATION[component]
    container = live["spec"]["template"]["spec"]["containers"][0]
    amounts = {"cpu": cpu, "memory": memory}
    resources = container.get("resources") or {}
    return (
        live["spec"].get("replicas") == replicas
        and resources.get("requests") == amounts
        and resources.get("limits") == amounts
    )


async def can_connect(dsn: str) -> bool:
    if not dsn:
        return False
    try:
        conn = await asyncpg.connect(dsn, timeout=10)
    except (asyncpg.PostgresError, OSError):
        return False
    await conn.close()
    return True


async def run(args: argparse.Namespace) -> int:
    env = bring_up_stack()
    demo = Demo(args, env)
    ok = False
    try:
        began = time.monotonic()
        await demo.build()
        tasks = await demo.running_tasks()
        detail = await demo.failover(tasks)
        demo.summary(detail)
        ok = await demo.verify(detail)
        OUT.print(f"demo wall time: {time.monotonic() - began:.1f}s (set-up included)")
        OUT.print(f"VERIFICATION {'PASSED' if ok else 'FAILED'}")
        if not args.exit_when_done:
            OUT.print(f"UI still up at [bold]{demo.url}/[/] (token {demo.token}); Ctrl-C to stop")
            while not demo.procs.dead():  # noqa: ASYNC110 - polls child processes
                await asyncio.sleep(1)
            OUT.print(f"[red]{demo.procs.dead()} stopped[/]")
    finally:
        phase("stopping every service; removing the run's namespaces, databases, topics")
        demo.procs.stop_all()
        if not args.keep:
            await demo.cleanup()
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=20)
    parser.add_argument("--exit-when-done", action="store_true")
    parser.add_argument("--port", type=int, default=0, help="console port (default: a free one)")
    parser.add_argument("--keep", action="store_true", help="keep the run's data afterwards")
    parser.add_argument(
        "--kafka-tls",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="services reach Kafka over mutual TLS, each with its plane's certificate",
    )
    args = parser.parse_args()
    try:
        code = asyncio.run(run(args))
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
