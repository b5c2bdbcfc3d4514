"""Run the Dispatcher until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio

from jetbridge.common.logs import configure_logging
from jetbridge.common.runner import run_until_signalled
from jetbridge.dispatcher.entrypoints.app import DispatcherApp
from jetbridge.dispatcher.entrypoints.settings import DispatcherSettings


async def run(settings: DispatcherSettings) -> None:
    """The app is built inside the loop: aiokafka clients need a running loop."""
    await run_until_signalled(DispatcherApp(settings))


def main() -> None:
    settings = DispatcherSettings()
    configure_logging("dispatcher", settings.log_level)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
