"""deploy/local/ports.py: ports for processes about to start, never handed out twice."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "deploy" / "local"))
import ports


def test_no_port_twice_none_from_the_ephemeral_range_and_each_bindable() -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    picked = [ports.free_port() for _ in range(300)]
    assert len(set(picked)) == len(picked)
    assert all(20_000 <= p < low for p in picked)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", picked[-1]))  # free when handed out (nothing took it since)


def _candidates(monkeypatch: pytest.MonkeyPatch, *values: int) -> None:
    """The random picks free_port will see, in order."""
    queue: Iterator[int] = iter(values)
    monkeypatch.setattr(ports.random, "randrange", lambda *_: next(queue))


def _unused(*besides: int) -> int:
    """A bindable port free_port has not handed out (nor one of ``besides``)."""
    return next(
        p
        for p in range(20_000, 30_000)
        if p not in besides and p not in ports._handed_out and ports._bind(p) is not None
    )


def test_a_reserved_port_and_a_listening_one_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    reserved = ports.reserve(_unused())  # bindable: only the reservation excludes it
    wanted = _unused(reserved)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        _candidates(monkeypatch, reserved, busy.getsockname()[1], wanted)
        assert ports.free_port() == wanted
