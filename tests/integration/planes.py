"""Helpers for tests that run real agents and control-plane clients over loopback mTLS."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from jetbridge.agent.adapters.facts_static import StaticFactsSource
from jetbridge.agent.adapters.grpc_server import AgentServer, DataPlaneServicer
from jetbridge.agent.domain.facts import ClusterFacts, SecretStoreStatus
from jetbridge.agent.service_layer.flights import FlightService
from jetbridge.common.tls import TlsLayout, ensure_certificates
from jetbridge.flightdeck import Flightdeck, open_flightdeck


def unique_cluster(prefix: str = "c") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_tls(tmp: Path, *cluster_ids: str) -> TlsLayout:
    return ensure_certificates(tmp, list(cluster_ids))


@contextlib.asynccontextmanager
async def pg_database(admin_dsn: str) -> AsyncIterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(admin_dsn)._replace(path=f"/{name}"))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def sample_facts(**changes: object) -> ClusterFacts:
    base = ClusterFacts(
        jetbridge_version="2.0.0",
        plane_mode="DATA",
        external_secrets_enabled=True,
        external_secret_manager_name="aws-secrets-manager",
        cluster_secret_store=SecretStoreStatus("jetbridge", True, True, "Valid"),
        failover_enabled=True,
        failover_enabled_at_ms=1_700_000_000_000,
        log_sink_configured=True,
        database_endpoint_status="PRIMARY",
        database_side="A",
    )
    from dataclasses import replace  # noqa: PLC0415

    return replace(base, **changes)  # type: ignore[arg-type]


class RunningAgent:
    """An in-process agent on a loopback port; ``stop`` and ``start`` keep the port."""

    def __init__(
        self,
        cluster_id: str,
        tls: TlsLayout,
        flightdeck: Flightdeck,
        facts: StaticFactsSource,
        heartbeat_interval: float,
        port: int = 0,
        certificate_of: str | None = None,
    ) -> None:
        self.cluster_id = cluster_id
        self.certificate_of = certificate_of or cluster_id
        self.tls = tls
        self.flightdeck = flightdeck
        self.facts = facts
        self.heartbeat_interval = heartbeat_interval
        self.port = port
        self.server: AgentServer | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        servicer = DataPlaneServicer(
            self.cluster_id,
            FlightService(self.flightdeck),
            self.facts,
            heartbeat_interval=self.heartbeat_interval,
        )
        # The certificate is the one of ``cluster_id`` unless a test swaps it (impostor).
        self.server = AgentServer(servicer, self.tls.cluster(self.certificate_of), self.endpoint)
        self.port = await self.server.start()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(None)
            self.server = None


@contextlib.asynccontextmanager
async def running_agent(
    cluster_id: str,
    tls: TlsLayout,
    flightdeck: Flightdeck,
    *,
    heartbeat_interval: float = 0.1,
    facts: StaticFactsSource | None = None,
    certificate_of: str | None = None,
) -> AsyncIterator[RunningAgent]:
    agent = RunningAgent(
        cluster_id,
        tls,
        flightdeck,
        facts or StaticFactsSource(sample_facts()),
        heartbeat_interval,
        certificate_of=certificate_of,
    )
    await agent.start()
    try:
        yield agent
    finally:
        await agent.stop()


@contextlib.asynccontextmanager
async def flightdeck_on(admin_dsn: str) -> AsyncIterator[Flightdeck]:
    async with pg_database(admin_dsn) as dsn:
        deck = await open_flightdeck(dsn)
        try:
            yield deck
        finally:
            await deck.close()
