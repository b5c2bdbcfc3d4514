"""Run the Dispatcher until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio

from jetbridge.common.logs import configure_logging
from jetbridge.common.runner import run_until_signalled
from jetbridge.dispatcher.entrypoints.app import DispatcherApp
from jetbridge.dispatcher.entrypoints.settings import DispatcherSettings


def main() -> None:
    settings = DispatcherSettings()
    configure_logging("dispatcher", settings.log_level)
    asyncio.run(run_until_signalled(DispatcherApp(settings)))


if __name__ == "__main__":
    main()
