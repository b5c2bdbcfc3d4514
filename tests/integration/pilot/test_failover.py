"""Pilots on two real data planes: provisioning, then a controlled failover.

Real everything: the local Kubernetes clusters (kwok, ESO stand-in, moto store), one
Flightdeck per plane, libs/fencing with a non-superuser admin and the drain's
``task_instance`` reads, all on one database server (PostgreSQL, and for the whole
failover also MariaDB: ``servers.Server``), Kafka for the relayed events. Navigator's
part is played by ``Clearer`` (its clearing rule over its own plans), so the Pilots only
ever run cleared steps.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from jetbridge.common.events import EventCodec
from jetbridge.fencing.domain import Side as DbSide
from jetbridge.flightdeck import Flightdeck, FlightState, open_flightdeck
from jetbridge.navigator.domain.vocabulary import FailoverMode, FlightKind
from jetbridge.pilot.adapters.kube_cluster import KubernetesCluster
from jetbridge.pilot.domain.airflow import DOCKER_CONFIG, REGISTRY_SECRET, DeploymentSpec
from jetbridge.pilot.domain.reports import start_of
from jetbridge.pilot.entrypoints.app import PilotApp
from jetbridge.pilot.entrypoints.settings import PilotSettings
from jetbridge.pilot.service_layer.steps_cluster import deployment_ready
from tests.integration.kafka_tools import create_topic, read_all

from .harness import (
    REGISTRY,
    Clearer,
    db_prefix,
    drive,
    failover_pair,
    provisioning,
    state_database,
    tag,
    wait_final,
)
from .kube import EAST, WEST, kube_pair
from .servers import APC, CUSTOMER, MARIADB, POSTGRESQL, Server

CODEC = EventCodec()


@dataclass
class Plane:
    name: str
    deck: Flightdeck  # the test's own connection to this plane's Flightdeck
    dsn: str
    cluster: KubernetesCluster


@dataclass
class World:
    east: Plane
    west: Plane
    admin_dsn: str
    server: Server
    topic: str
    kafka: str
    store: str

    def settings(self, plane: Plane, side: str, **changes: Any) -> PilotSettings:
        values: dict[str, Any] = {
            "owner": f"pilot-{plane.name}",
            "cluster_name": plane.name,
            "kubeconfig": "/dev/null",  # the cluster object is passed in
            "flightdeck_dsn": plane.dsn,
            "database_admin_dsn": self.admin_dsn,
            "database_side": side,
            "database_prefix": db_prefix(self.admin_dsn),
            "fencing_state_database": state_database(self.admin_dsn),
            "task_instances_dsn": self.server.superuser_dsn,
            "database_users": self.server.users,
            "secret_store": self.store,
            "kafka_bootstrap_servers": self.kafka,
            "topic_override": self.topic,
            "lease_seconds": 10.0,
            "poll_interval_s": 0.25,
        }
        values.update(changes)
        return PilotSettings(**values)


@contextlib.asynccontextmanager
async def world(kube_stack: Any, server: Server, kafka: str) -> AsyncIterator[World]:
    async with (
        server.fencing_admin() as admin,
        server.flightdeck_database("fd_east") as east_dsn,
        server.flightdeck_database("fd_west") as west_dsn,
        kube_pair(kube_stack) as (east_c, west_c),
    ):
        east_deck, west_deck = await open_flightdeck(east_dsn), await open_flightdeck(west_dsn)
        topic = await create_topic(kafka, "pilot-flight-events", partitions=3)
        try:
            yield World(
                Plane(EAST, east_deck, east_dsn, east_c),
                Plane(WEST, west_deck, west_dsn, west_c),
                admin,
                server,
                topic,
                kafka,
                kube_stack.cluster_secret_store,
            )
        finally:
            await east_deck.close()
            await west_deck.close()


@contextlib.asynccontextmanager
async def pilots(w: World, **changes: Any) -> AsyncIterator[tuple[PilotApp, PilotApp]]:
    east = PilotApp(w.settings(w.east, "A", **changes), cluster=w.east.cluster)
    west = PilotApp(w.settings(w.west, "B", **changes), cluster=w.west.cluster)
    await east.start()
    await west.start()
    try:
        yield east, west
    finally:
        await east.stop()
        await west.stop()


PULL_CONFIG = base64.b64encode(b'{"auths":{"registry.test":{"auth":"dTpw"}}}').decode()


@contextlib.asynccontextmanager
async def registry_credentials(w: World, name: str) -> AsyncIterator[None]:
    """The Secret ``namespace/name`` on both clusters, as an operator makes it for
    pilot.imagePullSecret (the Pilots copy it into each namespace they make)."""
    namespace, _, secret = name.partition("/")
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": secret, "namespace": namespace},
        "type": DOCKER_CONFIG,
        "data": {".dockerconfigjson": PULL_CONFIG},
    }
    for plane in (w.east, w.west):
        assert await plane.cluster.create(manifest)
    try:
        yield
    finally:
        for plane in (w.east, w.west):
            await plane.cluster.delete("Secret", namespace, secret)


async def provision(w: World, deployments: list[str]) -> None:
    await w.east.deck.enqueue_many([provisioning(d) for d in deployments])
    done = await wait_final(w.east.deck, [f"provision/{d}" for d in deployments], 180)
    assert [f.state for f in done] == [FlightState.SUCCEEDED] * len(deployments), done


async def published(w: World) -> list[Any]:
    """Every event the relays published, once each Flightdeck outbox is drained."""
    rows = 0
    for plane in (w.east, w.west):
        for _ in range(100):
            if not await plane.deck.outbox_pending(1):
                break
            await asyncio.sleep(0.1)
        rows += len(await w.server.outbox_event_ids(plane.dsn))
    return [CODEC.decode(r.value) for r in await read_all(w.kafka, w.topic, expected=rows)]


@pytest.mark.parametrize(
    ("kind", "users"),
    [(POSTGRESQL, APC), (POSTGRESQL, CUSTOMER), (MARIADB, APC), (MARIADB, CUSTOMER)],
)
async def test_provision_then_controlled_failover_moves_every_deployment(
    kube_stack: Any,
    postgres_dsn: str,
    mysql_dsn: str,
    kafka_bootstrap: str,
    kind: str,
    users: str,
) -> None:
    server = Server(kind, postgres_dsn if kind == POSTGRESQL else mysql_dsn, users)
    run = tag()
    # JETBRIDGE_PILOT_E2E_DEPLOYMENTS=20 runs the 20-Deployment failover.
    count = max(3, int(os.environ.get("JETBRIDGE_PILOT_E2E_DEPLOYMENTS", "3")))
    deployments = [f"{run}-d{i}" for i in range(count)]
    pull = f"default/registry-pull-{run}"  # each cluster's credentials for the registry
    async with (
        world(kube_stack, server, kafka_bootstrap) as w,
        registry_credentials(w, pull),
        pilots(w, image_pull_secret=pull),
    ):
        chosen = await server.as_the_customer(w.admin_dsn, deployments, kube_stack.secrets_endpoint)
        await provision(w, deployments)
        prefix = db_prefix(w.admin_dsn)
        async with contextlib.AsyncExitStack() as stack:
            tables = [
                await stack.enter_async_context(server.task_instances(prefix, d))
                for d in deployments
            ]
            finishing, stuck = tables[0], tables[1]
            await finishing.execute("INSERT INTO task_instance VALUES ('a', 'running')")
            await stuck.execute("INSERT INTO task_instance VALUES ('b', 'deferred')")
            clearers = []
            for d in deployments:
                # The finishing one's drain must outlast the finish, even on a loaded
                # machine; the others (the stuck one) time out after 4 s.
                timeout = 60 if d == deployments[0] else 4
                src, dst = failover_pair(f"req-{run}", d, FailoverMode.CONTROLLED, 1, timeout)
                await w.east.deck.enqueue(src)
                await w.west.deck.enqueue(dst)
                clearers.append(
                    Clearer(
                        FailoverMode.CONTROLLED,
                        {FlightKind.SOURCE: w.east.deck, FlightKind.DESTINATION: w.west.deck},
                        {FlightKind.SOURCE: src.flight_id, FlightKind.DESTINATION: dst.flight_id},
                    )
                )
            loop = asyncio.get_running_loop()

            async def finish_later() -> None:
                await asyncio.sleep(1.5)
                await finishing.execute("UPDATE task_instance SET state = 'success'")

            finisher = loop.create_task(finish_later())
            started = loop.time()
            await drive(clearers, 240)
            took = loop.time() - started
            await finisher
        for c in clearers:
            for f in (await c.flights()).values():
                assert f.state is FlightState.SUCCEEDED, f
        events = await published(w)
        print(f"\n{kind}/{users}: controlled failover of {len(deployments)}: {took:.1f}s")

        for d in deployments:
            spec = DeploymentSpec(d, "")
            assert await w.east.cluster.get("Namespace", None, spec.namespace) is None
            for c in spec.components:
                live = await w.west.cluster.get(
                    "Deployment", spec.namespace, spec.deployment_name(c.name)
                )
                assert live is not None and deployment_ready(live), c.name
                image = live["spec"]["template"]["spec"]["containers"][0]["image"]
                assert image == f"{REGISTRY}/apache/airflow:3.0.2"
                pod = live["spec"]["template"]["spec"]
                assert pod["imagePullSecrets"] == [{"name": REGISTRY_SECRET}]
            copy = await w.west.cluster.get("Secret", spec.namespace, REGISTRY_SECRET)
            assert copy is not None and copy["data"] == {".dockerconfigjson": PULL_CONFIG}
            secret = await w.west.cluster.get(
                "Secret", spec.namespace, spec.secret_name("metadata-b")
            )
            assert secret is not None
            conn = base64.b64decode(secret["data"]["connection"]).decode()
            assert "_b:" in conn  # the destination mounts side B's credentials
            if users == CUSTOMER:  # with the password the customer chose for it
                assert unquote(urlsplit(conn).password or "") == chosen[DbSide.B]
            state = await server.fence_state(w.admin_dsn, d)
            assert (state.epoch, state.active_side) == (1, DbSide.B)
            if users == CUSTOMER:  # fenced by grants alone: both logins as the customer made
                assert await server.can_login(d, w.admin_dsn) == {DbSide.A: True, DbSide.B: True}

    by_flight: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for e in events:
        by_flight.setdefault(e.payload["flight_id"], []).append((e.event_type, dict(e.payload)))
    assert len({e.event_id for e in events}) == len(events)  # nothing published twice
    drains = {
        fid.split("/")[1]: [p for t, p in evs if t in ("DrainCompleted", "DrainTimedOut")]
        for fid, evs in by_flight.items()
        if fid.endswith("/source")
    }
    assert drains[deployments[0]][0].get("tasks_still_running") is None  # DrainCompleted
    assert drains[deployments[1]][0]["tasks_still_running"] == 1  # timed out, 1 deferred
    for d in deployments[2:]:
        assert drains[d][0].get("tasks_still_running") is None
    for d in deployments:
        dst = by_flight[f"req-{run}/{d}/destination"]
        types = [t for t, _ in dst]
        assert types[0] == "FlightClaimed"
        assert types.count("FencingCompleted") == 1
        fence = next(p for t, p in dst if t == "FencingCompleted")
        assert (fence["epoch"], fence["attempt"]) == (1, 1)
        started = [s[0] for t, p in dst if (s := start_of(t, p)) is not None]
        assert started == [
            "CREATE_NAMESPACE",
            "APPLY_EXTERNAL_SECRETS",
            "FENCE_DATABASE",
            "UPSERT_DEPLOYMENT",
            "WAIT_READY",
        ]
        src_types = [t for t, _ in by_flight[f"req-{run}/{d}/source"]]
        src_starts = [start_of(t, p) for t, p in by_flight[f"req-{run}/{d}/source"]]
        assert sum(s is not None for s in src_starts) == 3
        assert src_types[-1] == "FlightStepSucceeded"  # DELETE_DEPLOYMENT, last
