"""A Console started while Kafka is away serves 503 and waits, then serves for real.

Before, its lifespan reached Kafka before the port opened: a broker away at start ended
the process. Here its bootstrap address refuses connections until a forwarder to the
real broker opens on it, two seconds after the Console's port did.
"""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import uvicorn

from jetbridge.common.health import Health
from jetbridge.console.entrypoints.app import ConsoleRuntime, ConsoleSettings
from tests.integration.console.world import TOKEN_TEXT, TOKENS
from tests.integration.forwarder import forward, refused_address
from tests.integration.kafka_tools import create_sandbox
from tests.polling import until


async def test_the_console_waits_for_kafka_and_answers_503_meanwhile(kafka_bootstrap: str) -> None:
    prefix = await create_sandbox(kafka_bootstrap)
    host, kafka_port = refused_address()
    health = Health()
    health.beat()  # live: readiness below is the Console's own check alone
    runtime = ConsoleRuntime(
        ConsoleSettings(
            kafka_bootstrap_servers=f"{host}:{kafka_port}",
            topic_prefix=prefix,
            console_tokens=TOKEN_TEXT,
        ),
        health=health,
    )
    exits: list[str] = []
    runtime.on_failure = lambda: exits.append("exit")
    _, http_port = refused_address()
    server = uvicorn.Server(
        uvicorn.Config(runtime.app, host="127.0.0.1", port=http_port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    forwarder: asyncio.Server | None = None
    auth = {"Authorization": f"Bearer {TOKENS['operator']}"}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as api:
            await until(lambda: server.started, "the Console's port")
            assert (await api.get("/api/v1/health")).json()["ready"] is False
            ready, body = health.readiness()
            assert not ready and body["waiting"] == {"ledger": "reaching Kafka"}

            listing = await api.get("/api/v1/clusters", headers=auth)
            assert listing.status_code == 503, listing.text
            assert listing.json()["error"] == "UNAVAILABLE"
            assert "not reached Kafka" in listing.json()["message"]
            assert listing.headers["Retry-After"] == "5"
            start = {"source_cluster_id": "dp-east", "destination_cluster_id": "dp-west"}
            started = await api.post("/api/v1/failovers", headers=auth, json=start)
            assert started.status_code == 503, started.text

            await asyncio.sleep(2.0)
            assert not serving.done() and not exits  # still up, still waiting
            forwarder = await forward(kafka_port, kafka_bootstrap)
            await until(lambda: health.readiness()[0], "the Console to be ready")
            assert (await api.get("/api/v1/health")).json()["ready"] is True
            listing = await api.get("/api/v1/clusters", headers=auth)
            assert listing.status_code == 200, listing.text
            assert listing.json() == []  # a fresh sandbox: no cluster registered
        assert not exits
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(serving, timeout=15)
        if forwarder is not None:
            forwarder.close()
