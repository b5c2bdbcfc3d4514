"""Steps on the in-memory twin: converging re-runs and typed failures."""

from __future__ import annotations

import base64
import json
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from jetbridge.flightdeck.models import Side
from jetbridge.pilot.adapters.clock import SystemClock
from jetbridge.pilot.adapters.memory_cluster import InMemoryCluster, MemorySecretStore
from jetbridge.pilot.domain.airflow import DeploymentSpec, Manifest, namespace_manifests
from jetbridge.pilot.domain.reports import first_start, running_note, step_result
from jetbridge.pilot.domain.steps import Drained, ErrorCode, Fenced, StepFailure, transient
from jetbridge.pilot.service_layer.context import PilotConfig, Ports, StepContext
from jetbridge.pilot.service_layer.steps import STEPS
from jetbridge.pilot.service_layer.steps_cluster import read_passwords

from .test_domain import flight

REGISTRY = "reg.test"


class FakeFencer:
    side = "B"

    def __init__(self) -> None:
        self.fenced: list[int] = []
        self.read_only: str | None = None  # why the server cannot be written now

    async def check_writable(self) -> None:
        if self.read_only is not None:
            raise transient(ErrorCode.DATABASE_READ_ONLY, self.read_only)

    async def provision(self, deployment_id: str, passwords: Mapping[str, str]) -> Fenced:
        return Fenced(0, "a", "b", 0)

    async def fence(self, deployment_id: str, epoch: int) -> Fenced:
        self.fenced.append(epoch)
        return Fenced(epoch, "b", "a", 0, already_applied=len(self.fenced) > 1)

    def connection_url(self, deployment_id: str, side: str, password: str) -> str:
        return f"postgresql://{side}:{password}@db/x"


class FakeTasks:
    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts
        self.released: list[str] = []

    async def active(self, deployment_id: str) -> dict[str, int]:
        return dict(self.counts)

    async def release(self, deployment_id: str) -> None:
        self.released.append(deployment_id)


def ctx(
    cluster: InMemoryCluster,
    step: str,
    *,
    side: Side = Side.DESTINATION,
    seconds: float = 2.0,
    tasks: FakeTasks | None = None,
    image: str = f"{REGISTRY}/org/airflow:1",
    customer: bool = False,
    epoch: int = 2,
    secrets_role: str = "",
    image_pull_secret: str = "",
    **params: object,
) -> StepContext:
    spec = {"deployment_spec": {"deployment_id": "dep-1", "image": image}, **params}
    return StepContext(
        flight=replace(flight(), side=side, deployment_id="dep-1", fencing_epoch=epoch),
        step=step,
        attempt=1,
        params=spec,
        spec=DeploymentSpec.from_params("dep-1", spec),
        config=PilotConfig(
            secret_store="store",
            poll_interval_s=0.05,
            customer_users=customer,
            secrets_role=secrets_role,
            service_account="jetbridge/pilot" if secrets_role else "",
            image_pull_secret=image_pull_secret,
        ),
        ports=Ports(cluster, FakeFencer(), tasks or FakeTasks({}), SystemClock()),
        deadline=time.monotonic() + seconds,
    )


async def run(cluster: InMemoryCluster, step: str, **kw: object) -> object:
    return await STEPS[step](ctx(cluster, step, **kw))  # type: ignore[arg-type]


async def test_a_whole_provisioning_and_failover_converges_when_re_run() -> None:
    store = MemorySecretStore()
    home, other = InMemoryCluster("east", store), InMemoryCluster("west", store)
    for _ in range(2):  # every step twice: a crash after the effect, before the record
        await run(home, "CREATE_NAMESPACE", side=Side.SOURCE)
        await run(home, "APPLY_EXTERNAL_SECRETS", side=Side.SOURCE)
        await run(home, "UPSERT_DEPLOYMENT", side=Side.SOURCE)
    fernet = home.objects()["Secret/airflow-dep-1/dep-1-fernet-key"]["data"]["fernet-key"]
    for _ in range(2):
        for step in (
            "CREATE_NAMESPACE",
            "APPLY_EXTERNAL_SECRETS",
            "UPSERT_DEPLOYMENT",
            "WAIT_READY",
        ):
            await run(other, step)
        await run(home, "STOP_SCHEDULING", side=Side.SOURCE)
        await run(home, "DELETE_DEPLOYMENT", side=Side.SOURCE)
    assert set(home.creations.values()) == {1}  # nothing was ever created twice...
    assert home.objects() == {}  # ...and all of it is gone from the source
    assert set(other.creations.values()) == {1}
    kinds = sorted(k.split("/")[0] for k in other.objects())
    assert kinds.count("Deployment") == 5 and kinds.count("ExternalSecret") == 3
    pulled = other.objects()["Secret/airflow-dep-1/dep-1-fernet-key"]["data"]["fernet-key"]
    assert pulled == fernet  # the re-run kept the first key; the destination has the same
    assert len(store.values) == 4  # fernet, env, metadata-a, metadata-b


class NotYetGranted(InMemoryCluster):
    """A binding reaches the authorizer a moment after it is written."""

    refusals = 2

    async def may(self, verb: str, kind: str, namespace: str) -> bool:
        bound = f"RoleBinding/{namespace}/jetbridge-pilot-secrets" in self.objects()
        if bound and self.refusals:
            self.refusals -= 1
            return False
        return bound and await super().may(verb, kind, namespace)


async def test_the_destination_refuses_to_prepare_while_the_database_is_read_only() -> None:
    """The spec's order: promote the replica, move the endpoint, then fail over. A
    Controlled source stops only after the destination's secrets step, so a database
    still read-only is found there, before anything stopped, and not at the fence after
    the drain (which would leave the Deployment down on both clusters)."""
    store = MemorySecretStore()
    home, other = InMemoryCluster("east", store), InMemoryCluster("west", store)
    await run(home, "CREATE_NAMESPACE", side=Side.SOURCE)
    await run(home, "APPLY_EXTERNAL_SECRETS", side=Side.SOURCE)
    await run(other, "CREATE_NAMESPACE")
    step = ctx(other, "APPLY_EXTERNAL_SECRETS")
    fencer = step.ports.fencer
    assert isinstance(fencer, FakeFencer)
    fencer.read_only = "the database server is a standby (pg_is_in_recovery)"
    with pytest.raises(StepFailure) as refused:
        await STEPS["APPLY_EXTERNAL_SECRETS"](step)
    assert refused.value.code is ErrorCode.DATABASE_READ_ONLY and refused.value.transient
    assert "standby" in refused.value.message
    assert not [k for k in other.objects() if k.startswith("ExternalSecret/")]
    fencer.read_only = None  # promoted: the retry goes through
    await STEPS["APPLY_EXTERNAL_SECRETS"](step)
    assert [k for k in other.objects() if k.startswith("ExternalSecret/")]


async def test_create_namespace_binds_the_secrets_role_there_and_waits_until_it_holds() -> None:
    cluster = NotYetGranted("west", MemorySecretStore())
    done = await run(cluster, "CREATE_NAMESPACE", secrets_role="jb-pilot-secrets")
    assert done.details == {"namespace": "airflow-dep-1"}  # type: ignore[attr-defined]
    binding = cluster.objects()["RoleBinding/airflow-dep-1/jetbridge-pilot-secrets"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "jb-pilot-secrets",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "pilot", "namespace": "jetbridge"}
    ]
    assert cluster.refusals == 0  # it waited through both refusals
    # Without a Secrets role (the local stack's admin), no binding is made.
    plain = InMemoryCluster("east", MemorySecretStore())
    await run(plain, "CREATE_NAMESPACE")
    assert not any(k.startswith("RoleBinding/") for k in plain.objects())


async def test_a_binding_that_never_holds_fails_the_attempt_naming_it() -> None:
    cluster = NotYetGranted("west", MemorySecretStore())
    cluster.refusals = 10**6
    with pytest.raises(StepFailure) as failure:
        await run(cluster, "CREATE_NAMESPACE", secrets_role="jb-pilot-secrets", seconds=0.3)
    assert failure.value.transient
    assert "jetbridge-pilot-secrets not yet in force in airflow-dep-1" in failure.value.message


class StaleReads(InMemoryCluster):
    """A Pilot that read the Secrets as missing before another Pilot created them."""

    async def get(self, kind: str, namespace: str | None, name: str) -> Manifest | None:
        return None if kind == "Secret" else await super().get(kind, namespace, name)


async def test_a_late_pilot_does_not_replace_the_secrets_another_created() -> None:
    store = MemorySecretStore()
    home = InMemoryCluster("east", store)
    await run(home, "CREATE_NAMESPACE", side=Side.SOURCE)
    await run(home, "APPLY_EXTERNAL_SECRETS", side=Side.SOURCE)
    before = {k: v["data"] for k, v in home.objects().items() if k.startswith("Secret/")}
    late = StaleReads("east", store)
    late._objects, late._by_namespace = home._objects, home._by_namespace  # one cluster
    await run(late, "APPLY_EXTERNAL_SECRETS", side=Side.SOURCE)  # found them "missing"
    after = {k: v["data"] for k, v in home.objects().items() if k.startswith("Secret/")}
    assert after == before and len(before) == 4  # fernet, env, metadata-a, metadata-b


async def test_a_stale_clean_up_keeps_the_copy_a_newer_mission_brought_up() -> None:
    """Forced A->B at epoch 2 leaves its clean-up on A pending; a failback B->A at
    epoch 3 takes A's namespace over; the late epoch-2 clean-up must not delete it."""
    a = InMemoryCluster("a", MemorySecretStore())
    await run(a, "CREATE_NAMESPACE", side=Side.SOURCE, epoch=1)  # provisioned
    await run(a, "CREATE_NAMESPACE", epoch=3)  # the failback's destination flight
    await run(a, "UPSERT_DEPLOYMENT", epoch=3)
    kept = await run(a, "DELETE_DEPLOYMENT", side=Side.SOURCE, epoch=2)
    assert kept.details == {"namespace": "airflow-dep-1", "deleted": False, "newer_epoch": 3}  # type: ignore[attr-defined]
    assert "Namespace//airflow-dep-1" in a.objects()
    assert sum(k.startswith("Deployment/") for k in a.objects()) == 5
    # The failback's own clean-up (same epoch) and any later one do delete it.
    gone = await run(a, "DELETE_DEPLOYMENT", side=Side.SOURCE, epoch=3)
    assert gone.details["deleted"] is True and a.objects() == {}  # type: ignore[attr-defined]


class TakenOverBetweenReadAndDelete(InMemoryCluster):
    """A failback's CREATE_NAMESPACE lands after the clean-up read the namespace."""

    takeovers = 1

    async def delete(
        self, kind: str, namespace: str | None, name: str, *, if_version: str | None = None
    ) -> bool:
        if kind == "Namespace" and self.takeovers:
            self.takeovers -= 1
            await run(self, "CREATE_NAMESPACE", epoch=3)
        return await super().delete(kind, namespace, name, if_version=if_version)


async def test_a_takeover_between_the_check_and_the_delete_keeps_the_namespace() -> None:
    a = TakenOverBetweenReadAndDelete("a", MemorySecretStore())
    await run(a, "CREATE_NAMESPACE", side=Side.SOURCE, epoch=1)
    kept = await run(a, "DELETE_DEPLOYMENT", side=Side.SOURCE, epoch=2)
    assert kept.details == {"namespace": "airflow-dep-1", "deleted": False, "newer_epoch": 3}  # type: ignore[attr-defined]
    assert "Namespace//airflow-dep-1" in a.objects()


async def test_a_namespace_that_keeps_changing_fails_the_attempt_and_deletes_nothing() -> None:
    a = TakenOverBetweenReadAndDelete("a", MemorySecretStore())
    a.takeovers = 0
    await run(a, "CREATE_NAMESPACE", side=Side.SOURCE, epoch=1)

    writes = iter(range(10))

    async def rewrite_first(*args: Any, **kw: Any) -> bool:  # an older epoch: nothing to keep
        namespace = namespace_manifests(DeploymentSpec("dep-1", "registry.test/a:1"), epoch=1)[0]
        namespace["metadata"]["labels"]["touched"] = str(next(writes))
        await InMemoryCluster.apply(a, namespace)
        return await InMemoryCluster.delete(a, *args, **kw)

    a.delete = rewrite_first  # type: ignore[method-assign]
    with pytest.raises(StepFailure) as failure:
        await run(a, "DELETE_DEPLOYMENT", side=Side.SOURCE, epoch=2)
    assert (
        failure.value.transient and "changed between every read and delete" in failure.value.message
    )
    assert "Namespace//airflow-dep-1" in a.objects()


async def test_a_namespace_without_an_epoch_is_deleted_as_before() -> None:
    a = InMemoryCluster("a", MemorySecretStore())
    await run(a, "CREATE_NAMESPACE", side=Side.SOURCE)
    # As an older Pilot made it: no annotation.
    await a.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "airflow-dep-1"}})
    assert "annotations" not in a.objects()["Namespace//airflow-dep-1"]["metadata"]
    await run(a, "DELETE_DEPLOYMENT", side=Side.SOURCE, epoch=1)
    assert a.objects() == {}


class CountingCluster(InMemoryCluster):
    """Counts the requests a wait makes: each one costs a real API server CPU."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.requests: Counter[tuple[str, str]] = Counter()

    async def get(self, kind: str, namespace: str | None, name: str) -> Manifest | None:
        self.requests[("GET", kind)] += 1
        self.requests[("GET", name)] += 1
        return await super().get(kind, namespace, name)

    async def list(self, kind: str, namespace: str, labels: Mapping[str, str]) -> list[Manifest]:
        self.requests[("LIST", kind)] += 1
        return await super().list(kind, namespace, labels)


async def test_an_unpullable_image_fails_at_the_deadline_naming_the_image() -> None:
    cluster = CountingCluster("west", unpullable=frozenset({f"{REGISTRY}/org/airflow:9"}))
    await run(cluster, "CREATE_NAMESPACE")
    started = time.monotonic()
    with pytest.raises(StepFailure) as info:
        await run(cluster, "UPSERT_DEPLOYMENT", image=f"{REGISTRY}/org/airflow:9", seconds=0.5)
    assert time.monotonic() - started >= 0.5
    failure = info.value
    assert failure.code is ErrorCode.IMAGE_PULL_FAILED and failure.transient
    assert f"{REGISTRY}/org/airflow:9" in failure.message and "ImagePullBackOff" in failure.message
    # Polled every 0.05 s for 0.5 s; the pods (for pull errors) listed once, not per round.
    assert cluster.requests[("LIST", "Deployment")] >= 5
    assert cluster.requests[("LIST", "Pod")] == 1


async def test_a_secret_found_ready_is_not_asked_again() -> None:
    store = MemorySecretStore({"jetbridge/dep-1/fernet-key": '{"fernet-key": "k"}'})
    store.values["jetbridge/dep-1/env"] = "{}"  # metadata-b is not in the store (yet)
    cluster = CountingCluster("west", store)
    await run(cluster, "CREATE_NAMESPACE")
    with pytest.raises(StepFailure) as info:
        await run(cluster, "APPLY_EXTERNAL_SECRETS", seconds=0.3)
    assert "dep-1-metadata-b not Ready" in info.value.message
    assert "dep-1-env" not in info.value.message
    assert cluster.requests[("GET", "dep-1-metadata-b")] >= 3  # polled every 0.05 s
    assert cluster.requests[("GET", "dep-1-fernet-key")] == 1  # Ready at once: not again
    assert cluster.requests[("GET", "dep-1-env")] == 1


async def test_a_store_that_is_down_fails_with_the_store_message() -> None:
    store = MemorySecretStore(down=True)
    cluster = InMemoryCluster("west", store)
    await run(cluster, "CREATE_NAMESPACE")
    with pytest.raises(StepFailure) as info:
        await run(cluster, "APPLY_EXTERNAL_SECRETS", seconds=0.3)
    assert info.value.code is ErrorCode.SECRETS_NOT_READY and info.value.transient
    assert (
        "store unreachable" in info.value.message
        and "ClusterSecretStore store" in info.value.message
    )


async def test_a_drain_that_times_out_reports_what_still_ran() -> None:
    cluster = InMemoryCluster("east")
    await run(cluster, "CREATE_NAMESPACE", side=Side.SOURCE)
    await run(cluster, "UPSERT_DEPLOYMENT", side=Side.SOURCE)
    busy = FakeTasks({"running": 2, "deferred": 1})
    drained = await run(
        cluster, "DRAIN_TASKS", side=Side.SOURCE, tasks=busy, drain_timeout_seconds=0.3
    )
    assert drained == Drained(3, True, {"running": 2, "deferred": 1}, drained.waited_seconds)  # type: ignore[attr-defined]
    assert busy.released == ["dep-1"]  # the drain let go of its metadata session
    workers = [o for k, o in cluster.objects().items() if k.startswith("Deployment/")]
    assert {o["spec"]["replicas"] for o in workers} == {0}  # everything scaled down after
    idle = await run(cluster, "DRAIN_TASKS", side=Side.SOURCE, drain_timeout_seconds=5)
    assert isinstance(idle, Drained) and not idle.timed_out and idle.waited_seconds < 1


async def test_customer_managed_users_take_the_customers_passwords_from_the_store() -> None:
    """The customer created the login roles: the home cluster never invents a password,
    it pulls the customer's, builds the connections from them and pushes as usual."""
    store = MemorySecretStore()
    home = InMemoryCluster("east", store)
    await run(home, "CREATE_NAMESPACE", side=Side.SOURCE)
    with pytest.raises(StepFailure) as waiting:
        await run(home, "APPLY_EXTERNAL_SECRETS", side=Side.SOURCE, seconds=0.3, customer=True)
    assert waiting.value.code is ErrorCode.SECRETS_NOT_READY and waiting.value.transient
    assert "jetbridge/dep-1/metadata-a-login" in waiting.value.message  # where to write
    assert "Secret/airflow-dep-1/dep-1-metadata-a" not in home.objects()  # none invented
    store.values["jetbridge/dep-1/metadata-a-login"] = '{"password": "pass-a"}'
    store.values["jetbridge/dep-1/metadata-b-login"] = '{"password": "pass-b"}'
    await run(home, "APPLY_EXTERNAL_SECRETS", side=Side.SOURCE, customer=True)
    secret_b = home.objects()["Secret/airflow-dep-1/dep-1-metadata-b"]["data"]
    assert base64.b64decode(secret_b["password"]).decode() == "pass-b"
    assert base64.b64decode(secret_b["connection"]).decode() == "postgresql://b:pass-b@db/x"
    pushed = json.loads(store.values["jetbridge/dep-1/metadata-b"])  # what dp-west pulls
    assert pushed["password"] == "pass-b"
    passwords = await read_passwords(ctx(home, "FENCE_DATABASE", side=Side.SOURCE))
    assert passwords == {"A": "pass-a", "B": "pass-b"}


async def test_a_customer_login_entry_without_a_password_is_refused_for_good() -> None:
    store = MemorySecretStore({"jetbridge/dep-1/metadata-a-login": '{"pwd": "x"}'})
    store.values["jetbridge/dep-1/metadata-b-login"] = '{"password": "pass-b"}'
    home = InMemoryCluster("east", store)
    await run(home, "CREATE_NAMESPACE", side=Side.SOURCE)
    with pytest.raises(StepFailure) as refused:
        await run(home, "APPLY_EXTERNAL_SECRETS", side=Side.SOURCE, customer=True)
    assert refused.value.code is ErrorCode.SECRETS_NOT_READY and not refused.value.transient
    assert "jetbridge/dep-1/metadata-a-login has no 'password' key" in refused.value.message


async def test_a_drain_timeout_of_zero_waits_for_nothing() -> None:
    """0 is a timeout the API accepts: stop scheduling, look once, scale down (the
    spec's "waits ... up to a configured timeout"), not the 600 s default."""
    cluster = InMemoryCluster("east")
    await run(cluster, "CREATE_NAMESPACE", side=Side.SOURCE)
    await run(cluster, "UPSERT_DEPLOYMENT", side=Side.SOURCE)
    busy = FakeTasks({"running": 4})
    drained = await run(
        cluster, "DRAIN_TASKS", side=Side.SOURCE, tasks=busy, seconds=3.0, drain_timeout_seconds=0
    )
    assert isinstance(drained, Drained)
    assert drained.timed_out and drained.still_running == 4
    assert drained.waited_seconds < 0.5  # not until the attempt's deadline (3 s)
    workers = [o for k, o in cluster.objects().items() if k.startswith("Deployment/")]
    assert {o["spec"]["replicas"] for o in workers} == {0}


async def test_cluster_outages_are_transient_and_refusals_permanent() -> None:
    cluster = InMemoryCluster("west")
    cluster.fail_next = 1
    with pytest.raises(StepFailure) as outage:
        await run(cluster, "CREATE_NAMESPACE")
    assert outage.value.code is ErrorCode.CLUSTER_UNAVAILABLE and outage.value.transient
    with pytest.raises(StepFailure) as refused:
        await run(cluster, "UPSERT_DEPLOYMENT")  # no namespace
    assert refused.value.code is ErrorCode.CLUSTER_REFUSED and not refused.value.transient


class SteppingClock(SystemClock):
    """Each reading 0.6 s after the last: the deadline passes between two readings."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        self.now += 0.6
        return self.now


class DownTasks(FakeTasks):
    async def active(self, deployment_id: str) -> dict[str, int]:
        raise ConnectionRefusedError("metadata database down")


async def test_a_drain_whose_last_count_failed_fails_and_never_reports_drained() -> None:
    cluster = InMemoryCluster("east", MemorySecretStore())
    step = ctx(
        cluster,
        "DRAIN_TASKS",
        side=Side.SOURCE,
        tasks=DownTasks({}),
        seconds=30,
        drain_timeout_seconds=1,
    )
    step = replace(step, ports=replace(step.ports, clock=SteppingClock()))
    with pytest.raises(StepFailure) as failure:
        await STEPS["DRAIN_TASKS"](step)  # type: ignore[arg-type]
    assert failure.value.transient and failure.value.code is ErrorCode.DATABASE_UNAVAILABLE
    assert "metadata database down" in failure.value.message


async def test_a_drain_retry_waits_what_is_left_of_the_timeout_not_all_of_it() -> None:
    cluster = InMemoryCluster("east", MemorySecretStore())
    busy = FakeTasks({"running": 2})
    step = ctx(cluster, "DRAIN_TASKS", side=Side.SOURCE, tasks=busy, drain_timeout_seconds=1)
    first = replace(step, first_started_ms=SystemClock().wall_ms() - 10_000)  # 10 s ago
    drained = await STEPS["DRAIN_TASKS"](first)  # type: ignore[arg-type]
    assert isinstance(drained, Drained) and drained.timed_out and drained.still_running == 2
    assert drained.waited_seconds < 0.5  # the 1 s was spent by the earlier attempts
    fresh = await STEPS["DRAIN_TASKS"](step)  # type: ignore[arg-type]
    assert isinstance(fresh, Drained) and fresh.waited_seconds >= 0.9  # a first attempt


def test_the_first_start_of_a_step_is_carried_by_a_failed_attempts_result() -> None:
    failed = {"ok": False, "attempt": 1, "first_started_at": 1_000}
    assert first_start(None, 1, 5_000) == 5_000  # the first attempt starts it
    assert first_start(failed, 2, 5_000) == 1_000  # a retry keeps it
    assert first_start({**failed, "attempt": 2}, 2, 5_000) == 5_000  # not an earlier one
    assert first_start({"ok": False, "attempt": 1}, 2, 5_000) == 5_000  # an older Pilot's
    assert first_start({"ok": True, "attempt": 1}, 2, 5_000) == 5_000  # re-run after success
    stored = step_result(transient(ErrorCode.DATABASE_UNAVAILABLE, "down"), 2, 9_000, 1_000)
    assert first_start(stored, 3, 9_500) == 1_000  # and the failure stores it for attempt 3


def test_a_step_killed_while_it_ran_is_re_run_on_its_first_start() -> None:
    """A long step leaves a note while it runs; a Pilot killed mid-step never replaces
    it, so the next claim, re-running the same attempt, continues the step's clock."""
    note = running_note(2, 1_000)
    assert first_start(note, 2, 5_000) == 1_000  # the same attempt, re-run after a kill
    assert first_start(note, 3, 5_000) == 1_000  # or the next one
    assert first_start(running_note(3, 1_000), 2, 5_000) == 5_000  # not a later attempt's
