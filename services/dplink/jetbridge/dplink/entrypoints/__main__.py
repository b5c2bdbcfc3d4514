"""Run DP-Link until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal

from jetbridge.common.logs import configure_logging
from jetbridge.dplink.entrypoints.app import DPLink
from jetbridge.dplink.entrypoints.settings import DPLinkSettings


async def run(settings: DPLinkSettings) -> None:
    app = DPLink(settings)
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
    settings = DPLinkSettings()
    configure_logging("dplink", settings.log_level)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
