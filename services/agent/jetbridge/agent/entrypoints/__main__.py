"""Wire and run the data-plane agent until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import signal

from jetbridge.agent.adapters.facts_static import StaticFactsSource
from jetbridge.agent.adapters.grpc_server import AgentServer, DataPlaneServicer
from jetbridge.agent.adapters.metrics import sample_queue_depth
from jetbridge.agent.entrypoints.settings import AgentSettings
from jetbridge.agent.service_layer.flights import FlightService
from jetbridge.common import runtime
from jetbridge.common.logs import configure_logging
from jetbridge.common.metrics import start_metrics_server
from jetbridge.common.telemetry import setup_tracing
from jetbridge.common.tls import TlsLayout
from jetbridge.flightdeck import open_flightdeck


async def run(settings: AgentSettings) -> None:
    flightdeck = await open_flightdeck(settings.flightdeck_dsn)
    facts = (
        StaticFactsSource.from_file(settings.facts_file)
        if settings.facts_file
        else StaticFactsSource()
    )
    if settings.database_side:  # one Helm value feeds this and the Pilot's side
        facts.update(database_side=settings.database_side.upper())
    servicer = DataPlaneServicer(
        settings.cluster_id,
        FlightService(flightdeck),
        facts,
        heartbeat_interval=settings.heartbeat_interval_s,
    )
    server = AgentServer(
        servicer, TlsLayout(settings.tls_dir).cluster(settings.cluster_id), settings.listen
    )
    await server.start()
    sampler = asyncio.create_task(
        sample_queue_depth(settings.cluster_id, settings.flightdeck_dsn), name="queue-depth"
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        await server.stop(grace=2.0)
        await flightdeck.close()


def main() -> None:
    settings = AgentSettings()  # type: ignore[call-arg]  # required fields come from env
    configure_logging("agent", settings.log_level)
    tracing = setup_tracing("agent", attributes={"jetbridge.cluster": settings.cluster_id})
    start_metrics_server()
    try:
        runtime.run(run(settings))
    finally:
        tracing.shutdown()


if __name__ == "__main__":
    main()
