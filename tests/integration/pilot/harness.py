"""Two data planes for Pilot tests: per plane a Flightdeck (PostgreSQL) and a cluster
(the local Kubernetes stack), one shared database server with a non-superuser fencing
admin, and a tiny stand-in for Navigator's clearing rule (``Clearer``) built on the
Navigator's own flight plans, so flights run exactly as cleared in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

from jetbridge.fencing.domain import DeploymentDatabases
from jetbridge.fencing.postgres import PostgresFencer
from jetbridge.fencing.quoting import pg_ident
from jetbridge.flightdeck import Flight, Flightdeck, FlightState, NewFlight, Side
from jetbridge.navigator.domain import plans
from jetbridge.navigator.domain.vocabulary import FailoverMode, FlightKind
from jetbridge.pilot.adapters.clock import SystemClock
from jetbridge.pilot.adapters.events import AvroEventEncoder
from jetbridge.pilot.service_layer.context import PilotConfig, Ports
from jetbridge.pilot.service_layer.ports import Clock
from jetbridge.pilot.service_layer.runner import FlightRunner
from jetbridge.pilot.service_layer.steps import StepFn
from tests.integration.flightdeck.dbs import postgres_database

PROVISION_STEPS = (
    "CREATE_NAMESPACE",
    "APPLY_EXTERNAL_SECRETS",
    "FENCE_DATABASE",
    "UPSERT_DEPLOYMENT",
    "WAIT_READY",
)
REGISTRY = "registry.jetbridge.local"
# As the control plane sends it: qualified with the installation's registry.
IMAGE = f"{REGISTRY}/apache/airflow:3.0.2"


def tag() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


@contextlib.asynccontextmanager
async def fencing_admin(superuser_dsn: str, *, createrole: bool = True) -> AsyncIterator[str]:
    """A LOGIN CREATEROLE CREATEDB (non-superuser) role, its DSN, and cleanup of what
    its Deployments created (databases and roles named with its prefix). Without
    ``createrole``: what the customer-managed users model gives Jetbridge."""
    name = f"pilot_{tag()}"
    password = secrets.token_urlsafe(16)
    flags = "LOGIN CREATEROLE CREATEDB" if createrole else "LOGIN CREATEDB"
    su = await asyncpg.connect(superuser_dsn)
    try:
        await su.execute(f"CREATE ROLE {pg_ident(name)} {flags} PASSWORD '{password}'")
        parts = urlsplit(superuser_dsn)
        netloc = f"{quote(name)}:{quote(password)}@{parts.hostname}:{parts.port}"
        yield urlunsplit((parts.scheme, netloc, parts.path or "/postgres", "", ""))
    finally:
        prefix = name.removeprefix("pilot_")
        for (db,) in await su.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", f"{prefix}%"
        ):
            await su.execute(f"DROP DATABASE IF EXISTS {pg_ident(db)} WITH (FORCE)")
        for (role,) in await su.fetch(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE $1", f"{prefix}%"
        ):
            await su.execute(f"DROP ROLE IF EXISTS {pg_ident(role)}")
        await su.execute(f"DROP OWNED BY {pg_ident(name)}")
        await su.execute(f"DROP ROLE IF EXISTS {pg_ident(name)}")
        await su.close()


def db_prefix(admin_dsn: str) -> str:
    """Deployment databases and roles of one admin share its tag as prefix."""
    user = urlsplit(admin_dsn).username or ""
    return user.removeprefix("pilot_") + "_"


def plan(steps: Sequence[str], deployment_id: str, **params: Any) -> list[dict[str, Any]]:
    body = {"deployment_spec": {"deployment_id": deployment_id, "image": IMAGE}, **params}
    deadlines = {"DRAIN_TASKS": 120, "WAIT_READY": 120}
    return [{"name": s, "deadline_seconds": deadlines.get(s, 90), "params": body} for s in steps]


def ungated(steps: Sequence[str]) -> NewFlight:
    """One flight of ``steps`` for a fresh Deployment, no clearance needed (runner tests)."""
    deployment = tag()
    return NewFlight(
        flight_id=f"f/{deployment}",
        mission_id=f"m/{deployment}",
        request_id="r",
        deployment_id=deployment,
        side=Side.DESTINATION,
        mode="FORCED",
        plan=plan(steps, deployment),
        fencing_epoch=1,
    )


def bare_runner(
    deck: Flightdeck,
    steps: Mapping[str, StepFn],
    lease_seconds: float,
    clock: Clock | None = None,
    **options: Any,
) -> FlightRunner:
    """A FlightRunner whose steps are the test's own functions and use no port but the
    clock (the system's unless given)."""
    return FlightRunner(
        deck,
        Ports(None, None, None, clock or SystemClock()),  # type: ignore[arg-type]
        AvroEventEncoder(),
        PilotConfig(),
        lease_seconds=lease_seconds,
        steps=steps,
        **options,
    )


def provisioning(deployment_id: str) -> NewFlight:
    """Creating a failover-enabled Deployment on its home cluster is a flight too (ungated)."""
    return NewFlight(
        flight_id=f"provision/{deployment_id}",
        mission_id=f"provision/{deployment_id}",
        request_id="provision",
        deployment_id=deployment_id,
        side=Side.SOURCE,
        mode="CONTROLLED",
        plan=plan(PROVISION_STEPS, deployment_id, provision=True),
        fencing_epoch=0,
    )


def failover_pair(
    request_id: str, deployment_id: str, mode: FailoverMode, epoch: int, drain_timeout: int
) -> tuple[NewFlight, NewFlight]:
    """(source, destination) flights of one mission, gated: nothing runs uncleared."""
    mission = plans.mission_id(request_id, deployment_id)
    out = []
    for kind in (FlightKind.SOURCE, FlightKind.DESTINATION):
        steps = [s.name.value for s in plans.plan(mode, kind)]
        out.append(
            NewFlight(
                flight_id=plans.flight_id(mission, kind),
                mission_id=mission,
                request_id=request_id,
                deployment_id=deployment_id,
                side=Side(kind.value),
                mode=mode.value,
                plan=plan(steps, deployment_id, drain_timeout_seconds=drain_timeout),
                fencing_epoch=epoch,
                cleared_through=-1,
            )
        )
    return out[0], out[1]


def succeeded(flight: Flight, step: str) -> bool:
    names = [p["name"] for p in flight.plan]
    i = names.index(step)
    result = flight.step_results.get(i) or {}
    return flight.current_step > i and bool(result.get("ok"))


@dataclass
class Clearer:
    """Navigator's clearing rule for one mission (plans.py ``after`` prerequisites):
    clear the longest run of next steps whose cross-flight prerequisites succeeded;
    re-clear a failed transient step up to ``retries`` times."""

    mode: FailoverMode
    decks: dict[FlightKind, Flightdeck]
    ids: dict[FlightKind, str]
    retries: int = 3
    failed_attempts: dict[str, int] = field(default_factory=dict)

    async def flights(self) -> dict[FlightKind, Flight]:
        out = {}
        for kind, deck in self.decks.items():
            flight = await deck.get(self.ids[kind])
            assert flight is not None
            out[kind] = flight
        return out

    async def step(self) -> bool:
        """Clear what is due; True when both flights have finished."""
        flights = await self.flights()
        for kind, f in flights.items():
            if f.state.is_final or f.current_step >= len(f.plan):
                continue
            cleared = len(f.plan) if f.cleared_through is None else f.cleared_through
            waiting = f.state is FlightState.QUEUED and cleared < f.current_step
            if not waiting:
                continue
            result = f.step_results.get(f.current_step) or {}
            if result and not result.get("ok"):
                if (
                    not result.get("transient")
                    or self.failed_attempts.get(f.flight_id, 0) >= self.retries
                ):
                    continue  # Navigator would fail the flight here
                self.failed_attempts[f.flight_id] = self.failed_attempts.get(f.flight_id, 0) + 1
            run = self._clearable(kind, f, flights)
            if run:
                await self.decks[kind].clear_steps(
                    f.flight_id, uuid.uuid4().hex, f.current_step, f.current_step + len(run) - 1
                )
        return all(f.state.is_final for f in flights.values())

    def _clearable(
        self, kind: FlightKind, f: Flight, flights: dict[FlightKind, Flight]
    ) -> list[str]:
        run = []
        for entry in f.plan[f.current_step :]:
            spec = plans.spec(self.mode, kind, plans.StepName(entry["name"]))
            if any(not succeeded(flights[k], s.value) for k, s in spec.after):
                break
            run.append(entry["name"])
        return run


async def drive(clearers: Sequence[Clearer], timeout: float) -> None:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        done = [await c.step() for c in clearers]
        if all(done):
            return
        if loop.time() > end:
            states = [await c.flights() for c in clearers]
            raise AssertionError(f"missions not finished after {timeout}s: {states}")
        await asyncio.sleep(0.2)


async def wait_final(deck: Flightdeck, flight_ids: Sequence[str], timeout: float) -> list[Flight]:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        flights = [await deck.get(fid) for fid in flight_ids]
        if all(f is not None and f.state.is_final for f in flights):
            return [f for f in flights if f is not None]
        if loop.time() > end:
            raise AssertionError(f"flights not final after {timeout}s: {flights}")
        await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def task_instances(
    superuser_dsn: str, prefix: str, deployment_id: str
) -> AsyncIterator[asyncpg.Connection]:
    """The Airflow ``task_instance`` table in the Deployment's metadata database."""
    database = DeploymentDatabases.named(deployment_id, prefix=prefix).epoch_database
    conn = await asyncpg.connect(superuser_dsn, database=database)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS task_instance (task_id text PRIMARY KEY, state text)"
        )
        yield conn
    finally:
        await conn.close()


def state_database(admin_dsn: str) -> str:
    """The admin's own fencing state database (dropped with its prefix's databases)."""
    return db_prefix(admin_dsn).removesuffix("_") + "-fencing"


def fencer(admin_dsn: str) -> PostgresFencer:
    """Use as ``async with fencer(dsn) as f``: it pools connections to the state database."""
    return PostgresFencer(admin_dsn, state_database=state_database(admin_dsn))


__all__ = ["postgres_database"]
