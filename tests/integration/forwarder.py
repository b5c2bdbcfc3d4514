"""A TCP forwarder: a server "comes back" on an address that refused connections."""

from __future__ import annotations

import asyncio
import contextlib
import socket


def refused_address() -> tuple[str, int]:
    """A free local port, closed again: connections to it are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return "127.0.0.1", int(probe.getsockname()[1])


async def forward(port: int, target: str) -> asyncio.Server:
    """Listen on ``port`` and pipe each connection to ``target`` (host:port): enough for
    a Kafka client's bootstrap, after which it talks to the advertised broker itself."""
    host, target_port = target.rsplit(":", 1)

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, int(target_port))
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    return await asyncio.start_server(handle, "127.0.0.1", port)
