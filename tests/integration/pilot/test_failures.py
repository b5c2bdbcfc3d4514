"""A secrets store that is down, on the real local stack: the step fails transient with
the store's own message in the event; once the store is back a retry (attempt 2)
succeeds."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from typing import Any

import pytest

from jetbridge.flightdeck import FlightState
from jetbridge.navigator.domain.vocabulary import FailoverMode
from jetbridge.pilot.domain import secrets as sec
from jetbridge.pilot.domain.airflow import DeploymentSpec

from .harness import failover_pair, tag
from .servers import POSTGRESQL, Server
from .test_crash import outbox
from .test_failover import pilots, provision, world

sys.path.insert(0, "deploy/local/kube")


async def test_a_store_that_is_down_fails_the_secrets_step_then_a_retry_succeeds(
    kube_stack: Any, postgres_dsn: str, kafka_bootstrap: str
) -> None:
    import kubestack  # noqa: PLC0415 - the local stack's own module (see tests/integration/kube)

    run = tag()
    deployment = f"{run}-s"
    async with world(kube_stack, Server(POSTGRESQL, postgres_dsn), kafka_bootstrap) as w, pilots(w):
        await provision(w, [deployment])
        _, dst = failover_pair(f"req-{run}", deployment, FailoverMode.FORCED, 1, 5)
        plan = [dict(p) for p in dst.plan]
        secrets_step = [p["name"] for p in plan].index("APPLY_EXTERNAL_SECRETS")
        plan[secrets_step]["deadline_seconds"] = 8
        dst = dataclasses.replace(dst, plan=plan)
        await w.west.deck.enqueue(dst)
        kubestack.stop_secrets_store()
        try:
            await w.west.deck.clear_steps(dst.flight_id, "c1", 0, secrets_step)
            for _ in range(300):
                f = await w.west.deck.get(dst.flight_id)
                assert f is not None
                if f.state is FlightState.QUEUED and secrets_step in f.step_results:
                    break
                await asyncio.sleep(0.1)
            else:
                pytest.fail(
                    f"the secrets step did not fail within 30 s: {f.state}, {f.step_results}"
                )
        finally:
            kubestack.start_secrets_store()
        result = f.step_results[secrets_step]
        assert (result["ok"], result["error_code"], result["transient"]) == (
            False,
            "SECRETS_NOT_READY",
            True,
        )
        assert f.cleared_through == secrets_step - 1  # revoked: Navigator decides a retry
        events = await outbox(w.west.dsn)
        (failed,) = [e.payload for e in events if e.event_type == "FlightStepFailed"]
        assert failed["step"] == "APPLY_EXTERNAL_SECRETS" and failed["attempt"] == 1
        assert "ClusterSecretStore" in failed["error"] and "not Ready" in failed["error"]
        print(f"\nthe event says: {failed['error'][:300]}")

        # moto keeps its secrets in memory: its restart lost what provisioning pushed (a
        # real store would not). Bump the source's PushSecrets so they push again now.
        spec = DeploymentSpec(deployment, "")
        for kind in sec.pushed_kinds():
            manifest = sec.push_secret_manifest(spec, kind, w.store)
            manifest["spec"]["refreshInterval"] = "59s"
            await w.east.cluster.apply(manifest)
        for _ in range(300):
            live = [
                await w.east.cluster.get("PushSecret", spec.namespace, spec.secret_name(k))
                for k in sec.pushed_kinds()
            ]
            if all(sec.ready_condition(p or {})[0] for p in live):
                break
            await asyncio.sleep(0.1)
        else:
            why = [sec.ready_condition(p or {})[1] for p in live]
            pytest.fail(f"the PushSecrets did not push again within 30 s: {why}")
        await w.west.deck.clear_steps(dst.flight_id, "c2", secrets_step, secrets_step)
        for _ in range(300):
            f = await w.west.deck.get(dst.flight_id)
            assert f is not None
            if f.current_step > secrets_step:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail(f"the retried secrets step did not pass within 30 s: {f.step_results}")
        assert f.step_results[secrets_step]["ok"] is True
        assert f.step_results[secrets_step]["attempt"] == 2
