"""Run a service until SIGTERM or SIGINT, then stop it cleanly (one way for all)."""

from __future__ import annotations

import asyncio
import signal
from typing import Protocol


class Service(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def run_until_signalled(service: Service) -> None:
    """Start, wait for SIGTERM/SIGINT (Kubernetes, Ctrl-C), then stop: in-flight work ends."""
    await service.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await service.stop()
