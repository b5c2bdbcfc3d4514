"""Run the Dispatcher until SIGTERM/SIGINT."""

from __future__ import annotations

from jetbridge.common import runtime
from jetbridge.common.logs import configure_logging
from jetbridge.common.metrics import start_metrics_server
from jetbridge.common.reachable import wait_for_kafka
from jetbridge.common.runner import run_until_signalled
from jetbridge.common.telemetry import setup_tracing
from jetbridge.dispatcher.entrypoints.app import DispatcherApp
from jetbridge.dispatcher.entrypoints.settings import DispatcherSettings


async def run(settings: DispatcherSettings) -> None:
    """The app is built inside the loop: aiokafka clients need a running loop. A broker
    away at start is waited out (not ready meanwhile), not exited."""
    app = DispatcherApp(settings)
    await wait_for_kafka(settings.kafka_bootstrap_servers)
    await run_until_signalled(app)


def main() -> None:
    settings = DispatcherSettings()
    configure_logging("dispatcher", settings.log_level)
    tracing = setup_tracing("dispatcher")
    start_metrics_server()
    try:
        runtime.run(run(settings))
    finally:
        tracing.shutdown()


if __name__ == "__main__":
    main()
