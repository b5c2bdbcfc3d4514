"""A Pilot process SIGKILLed again and again, at step boundaries and mid-step, on the
real local clusters: the flights end as if nothing happened, with no duplicated effect
(one object of each, one ReplicaSet per Deployment, one fencing epoch)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from typing import Any

import asyncpg

from jetbridge.common.events import EventCodec
from jetbridge.fencing.domain import DeploymentDatabases
from jetbridge.fencing.domain import Side as DbSide
from jetbridge.flightdeck import FlightState
from jetbridge.navigator.domain.vocabulary import FailoverMode
from jetbridge.pilot.domain.airflow import DeploymentSpec
from jetbridge.pilot.domain.reports import start_of

from .harness import db_prefix, failover_pair, fencer, tag, wait_final
from .servers import POSTGRESQL, Server
from .test_failover import World, pilots, provision, world

KILLS = 8
CODEC = EventCodec()


def pilot_env(w: World, owner: str) -> dict[str, str]:
    s = w.settings(w.west, "B", owner=owner, kafka_bootstrap_servers=None, lease_seconds=3.0)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JETBRIDGE_PILOT_")}
    for name, value in s.model_dump().items():
        if value is not None:
            env[f"JETBRIDGE_PILOT_{name.upper()}"] = str(value)
    env["JETBRIDGE_PILOT_KUBECONFIG"] = str(w.west.cluster._kubeconfig)
    return env


async def outbox(dsn: str) -> list[Any]:
    conn = await asyncpg.connect(dsn)
    try:
        return [
            CODEC.decode(bytes(r["payload"]))
            for r in await conn.fetch("SELECT payload FROM dp_flight_outbox ORDER BY seq")
        ]
    finally:
        await conn.close()


async def test_sigkilled_pilots_converge_without_duplicated_effects(
    kube_stack: Any, postgres_dsn: str, kafka_bootstrap: str
) -> None:
    run = tag()
    deployments = [f"{run}-k{i}" for i in range(2)]
    rng = random.Random(run)
    async with world(kube_stack, Server(POSTGRESQL, postgres_dsn), kafka_bootstrap) as w:
        async with pilots(w):
            await provision(w, deployments)
        ids = []
        for d in deployments:
            _, dst = failover_pair(f"req-{run}", d, FailoverMode.FORCED, 1, 5)
            await w.west.deck.enqueue(dst)
            await w.west.deck.clear_steps(dst.flight_id, "c1", 0, len(dst.plan) - 1)
            ids.append(dst.flight_id)

        kills = 0
        seen = 0
        for round_ in range(KILLS + 1):
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "jetbridge.pilot",
                env=pilot_env(w, f"pilot-crash-{round_}"),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            if round_ == KILLS:  # the last one may finish
                done = await wait_final(w.west.deck, ids, 240)
                proc.send_signal(signal.SIGTERM)
                await proc.wait()
                break
            # wait for progress (a step started or recorded), then kill a moment later:
            # right at a boundary or in the middle of the next step
            for _ in range(600):
                rows = len(await outbox(w.west.dsn))
                if rows > seen:
                    seen = rows
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(rng.uniform(0.0, 0.6))
            proc.send_signal(signal.SIGKILL)
            assert await proc.wait() == -signal.SIGKILL
            kills += 1
        assert [f.state for f in done] == [FlightState.SUCCEEDED] * len(ids), done
        assert kills == KILLS
        assert max(f.attempt for f in done) > 1  # flights really were reclaimed

        for d in deployments:
            spec = DeploymentSpec(d, "")
            cluster = w.west.cluster
            deps = await cluster.list("Deployment", spec.namespace, {"release": spec.release})
            assert sorted(o["metadata"]["name"] for o in deps) == sorted(
                spec.deployment_name(c.name) for c in spec.components
            )
            sets = await cluster.list("ReplicaSet", spec.namespace, {"release": spec.release})
            assert len(sets) == len(spec.components)  # no template churn: one RS each
            pulled = await cluster.list("ExternalSecret", spec.namespace, {"release": spec.release})
            assert len(pulled) == 3
            async with fencer(w.admin_dsn) as reader:
                state = await reader.state(
                    DeploymentDatabases.named(d, prefix=db_prefix(w.admin_dsn))
                )
            assert (state.epoch, state.active_side) == (1, DbSide.B)
        events = await outbox(w.west.dsn)
        fences = [e.payload for e in events if e.event_type == "FencingCompleted"]
        assert {(p["epoch"], p["attempt"]) for p in fences} == {(1, 1)}
        assert len({p["flight_id"] for p in fences}) == len(ids)
        claims = [e for e in events if e.event_type == "FlightClaimed"]
        print(
            f"\n{kills} SIGKILLs, {len(claims)} claims, {len(events)} events, "
            f"{sum(start_of(e.event_type, e.payload) is not None for e in events)} step starts "
            f"for {sum(len(f.plan) for f in done)} steps"
        )
