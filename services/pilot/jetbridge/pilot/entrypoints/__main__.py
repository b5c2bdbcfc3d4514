"""Run one Pilot until SIGTERM/SIGINT (running flights are abandoned to their leases)."""

from __future__ import annotations

import asyncio
import signal

from jetbridge.common import runtime
from jetbridge.common.logs import configure_logging
from jetbridge.common.metrics import start_metrics_server
from jetbridge.common.telemetry import setup_tracing
from jetbridge.pilot.entrypoints.app import PilotApp
from jetbridge.pilot.entrypoints.settings import PilotSettings


async def run(settings: PilotSettings) -> None:
    app = PilotApp(settings)
    await app.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await app.stop()


def main() -> None:
    settings = PilotSettings()  # type: ignore[call-arg]  # from the environment
    configure_logging("pilot", settings.log_level)
    tracing = setup_tracing("pilot", attributes={"jetbridge.cluster": settings.cluster_name})
    start_metrics_server()
    try:
        runtime.run(run(settings))
    finally:
        tracing.shutdown()


if __name__ == "__main__":
    main()
