"""Run the Dispatcher until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal

from jetbridge.common.logs import configure_logging
from jetbridge.dispatcher.entrypoints.app import DispatcherApp
from jetbridge.dispatcher.entrypoints.settings import DispatcherSettings


async def run(settings: DispatcherSettings) -> None:
    app = DispatcherApp(settings)
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
    settings = DispatcherSettings()
    configure_logging("dispatcher", settings.log_level)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
