"""A link keeps reconnecting after a failure that is not an RPC error (its TLS files
unreadable, say, mid-rotation). It used to end its task: the cluster then went unheard,
and soon UNREACHABLE, with nobody retrying."""

from __future__ import annotations

import asyncio
from pathlib import Path

from jetbridge.common.backoff import Backoff
from jetbridge.common.events import EventRecord
from jetbridge.common.tls import TlsFiles
from jetbridge.dplink.adapters.grpc_link import LinkClient
from jetbridge.dplink.domain.registry import Registration
from jetbridge.dplink.service_layer.monitor import HealthMonitor


class _Sink:
    def __init__(self) -> None:
        self.events: list[EventRecord] = []

    def emit(self, event: EventRecord) -> None:
        self.events.append(event)


async def test_a_link_whose_tls_files_are_gone_keeps_trying(tmp_path: Path) -> None:
    missing = TlsFiles(tmp_path / "ca.pem", tmp_path / "dplink.pem", tmp_path / "dplink-key.pem")
    registration = Registration("dp-x", "127.0.0.1:1", "spiffe://jetbridge/cluster/dp-x")
    link = LinkClient(registration, missing, HealthMonitor(_Sink()), backoff=Backoff(0.01, 0.02))
    task = asyncio.create_task(link.run())
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while link.stats.failures < 3 and asyncio.get_running_loop().time() < deadline:
            assert not task.done(), task.exception() if task.done() else None
            await asyncio.sleep(0.05)
        assert not task.done(), task.exception() if task.done() else None
        assert link.stats.failures >= 3
        assert "No such file" in link.stats.last_error
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
