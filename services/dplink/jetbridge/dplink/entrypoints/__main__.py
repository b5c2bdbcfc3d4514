"""Run DP-Link until SIGTERM/SIGINT."""

from __future__ import annotations

from jetbridge.common import runtime
from jetbridge.common.logs import configure_logging
from jetbridge.common.metrics import start_metrics_server
from jetbridge.common.runner import run_until_signalled
from jetbridge.common.telemetry import setup_tracing
from jetbridge.dplink.entrypoints.app import DPLink
from jetbridge.dplink.entrypoints.settings import DPLinkSettings


async def run(settings: DPLinkSettings) -> None:
    """The app is built inside the loop: aiokafka clients need a running loop."""
    await run_until_signalled(DPLink(settings))


def main() -> None:
    settings = DPLinkSettings()
    configure_logging("dplink", settings.log_level)
    tracing = setup_tracing("dplink")
    start_metrics_server()
    try:
        runtime.run(run(settings))
    finally:
        tracing.shutdown()


if __name__ == "__main__":
    main()
