"""Liveness and readiness a probe can trust, served beside ``/metrics``.

Before, the services that open no port of their own (Navigator, projections, DP-Link,
Dispatcher, Pilot) were probed with ``GET /metrics``. prometheus_client answers it from
its own thread, so a hung event loop passed, and a Dispatcher still folding a long log
counted as ready: in a rolling update its partitions waited on it (docs/operations.md).

- ``/livez``: the event loop ran lately. :func:`heartbeat`, which ``runtime.run``
  starts beside every service's main coroutine, stamps the time each second; older
  than ``stale_after_s`` means a hung or starved loop: 503.
- ``/readyz``: live, and every check the service registered is met. A check is a
  callable returning ``None`` when met or why not; it runs on the HTTP thread, so it
  may only read plain attributes (an ``asyncio.Event``'s ``is_set()``, a flag).

Both answer JSON that says why. Neither asks Kafka or a database: a broker away would
fail every replica's probe at once and restart them all, which cures nothing.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import REGISTRY, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

Check = Callable[[], str | None]
StartResponse = Callable[[str, list[tuple[str, str]]], Any]
LIVE_PATH, READY_PATH = "/livez", "/readyz"


class Health:
    """What the process says of itself; one per process (:data:`HEALTH`)."""

    def __init__(
        self, stale_after_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.stale_after_s = stale_after_s
        self._clock = clock
        self._beat: float | None = None
        self._checks: dict[str, Check] = {}
        self._lock = threading.Lock()

    def beat(self) -> None:
        self._beat = self._clock()

    def require(self, name: str, check: Check) -> None:
        """Readiness waits for ``check`` (replacing an earlier one of that name)."""
        with self._lock:
            self._checks[name] = check

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        if self._beat is None:
            return False, {"live": False, "why": "the event loop has not started"}
        age = self._clock() - self._beat
        if age > self.stale_after_s:
            why = f"the event loop last ran {age:.1f}s ago (limit {self.stale_after_s:g}s)"
            return False, {"live": False, "why": why}
        return True, {"live": True, "loop_age_s": round(age, 3)}

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        live, body = self.liveness()
        with self._lock:
            checks = list(self._checks.items())
        waiting = {}
        for name, check in checks:
            try:
                why = check()
            except Exception as error:  # a check that breaks is not met, and says so
                why = f"check failed: {error!r}"
            if why is not None:
                waiting[name] = why
        ready = live and not waiting
        return ready, {**body, "ready": ready, "waiting": waiting}


HEALTH = Health()


async def heartbeat(health: Health = HEALTH, every_s: float = 1.0) -> None:
    """Stamp ``health`` from the event loop until cancelled."""
    while True:
        health.beat()
        await asyncio.sleep(every_s)


def health_app(health: Health = HEALTH, registry: Any = REGISTRY) -> Any:
    """A WSGI app: ``/livez`` and ``/readyz`` from ``health``, anything else metrics."""
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path not in (LIVE_PATH, READY_PATH):
            return metrics(environ, start_response)  # type: ignore[no-any-return]
        ok, body = health.liveness() if path == LIVE_PATH else health.readiness()
        data = json.dumps(body).encode()
        status = "200 OK" if ok else "503 Service Unavailable"
        start_response(
            status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
        )
        return [data]

    return app


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """A probe every few seconds is not worth a log line."""


def serve(port: int, addr: str, health: Health = HEALTH) -> ThreadingWSGIServer:
    """Serve :func:`health_app` in a daemon thread; returns the server (its port)."""

    class Server(ThreadingWSGIServer):
        address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET

    server = make_server(addr, port, health_app(health), Server, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server
