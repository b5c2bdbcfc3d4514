"""Free TCP ports for processes this one is about to start.

Why not just ``bind(("127.0.0.1", 0))``: the kernel picks that port from the ephemeral
range, the same range it takes the local port of every outgoing connection from, and
it may hand the same port out again before the process it was meant for binds it. A
demo that picked the Console's port and then a metrics port that way got the same
number twice (CI, 2026-12-03: the demo's API call read a /metrics page). So ports come
from below the ephemeral range, where the kernel assigns nothing by itself, and never
twice from one process.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# The local stack listens on fixed ports below this (13306, 15432, 164xx, 19092...),
# and may be restarted (the chaos tests) while a port is being picked.
_LOWEST = 20_000
_handed_out: set[int] = set()


def _ephemeral_low() -> int:
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def _bind(port: int) -> int | None:
    """The port bound (the kernel's pick for 0), or None when it is taken."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return None
        return int(sock.getsockname()[1])


def reserve(port: int) -> int:
    """Note a port chosen elsewhere (an operator's flag) so free_port never returns it."""
    _handed_out.add(port)
    return port


def free_port() -> int:
    """A port nothing listens on now, that the kernel will not give out by itself and
    that this process has not handed out before."""
    high = _ephemeral_low()
    below_ephemeral = high - _LOWEST >= 1_000  # else an unusual range: the kernel picks
    for _ in range(1_000):
        port = _bind(random.randrange(_LOWEST, high) if below_ephemeral else 0)
        if port is not None and port not in _handed_out:
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free TCP port found below {high}")
