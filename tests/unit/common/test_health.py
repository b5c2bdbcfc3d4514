"""The probes' endpoints: /livez from the event loop's heartbeat, /readyz from the
service's own checks, /metrics beside them, over a real socket."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter

from jetbridge.common.health import HEALTH, Health, health_app, serve
from jetbridge.common.runtime import run


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_live_only_while_the_loop_beats_within_the_limit() -> None:
    clock = Clock()
    health = Health(stale_after_s=30, clock=clock)
    live, body = health.liveness()
    assert not live and body["why"] == "the event loop has not started"
    health.beat()
    clock.now += 29.5
    assert health.liveness() == (True, {"live": True, "loop_age_s": 29.5})
    clock.now += 1
    live, body = health.liveness()
    assert not live
    assert body["why"] == "the event loop last ran 30.5s ago (limit 30s)"


def test_ready_when_live_and_every_check_is_met_and_says_what_it_waits_for() -> None:
    clock = Clock()
    health = Health(clock=clock)
    caught_up = False
    health.require("state", lambda: None if caught_up else "folding the log")
    health.beat()
    ready, body = health.readiness()
    assert not ready and body["waiting"] == {"state": "folding the log"}
    caught_up = True
    assert health.readiness()[0]

    def broken() -> str | None:
        raise KeyError("gone")

    health.require("broken", broken)
    ready, body = health.readiness()
    assert not ready and body["waiting"] == {"broken": "check failed: KeyError('gone')"}
    health.require("broken", lambda: None)  # the same name replaces the check
    assert health.readiness()[0]
    clock.now += 60  # a stale loop is not ready either, whatever the checks say
    ready, body = health.readiness()
    assert not ready and body["live"] is False


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_the_endpoints_over_http_beside_the_metrics() -> None:
    clock = Clock()
    health = Health(clock=clock)
    server = serve(0, "127.0.0.1", health)
    port = server.server_port
    try:
        status, body = _get(port, "/livez")
        assert status == 503 and json.loads(body)["live"] is False
        health.beat()
        assert _get(port, "/livez")[0] == 200
        waiting = {"why": "replaying"}
        health.require("state", lambda: waiting["why"])
        status, body = _get(port, "/readyz")
        assert status == 503 and json.loads(body)["waiting"] == {"state": "replaying"}
        waiting["why"] = None  # type: ignore[assignment]
        status, body = _get(port, "/readyz")
        assert status == 200 and json.loads(body)["ready"] is True
        status, body = _get(port, "/metrics")
        assert status == 200 and b"# HELP" in body
    finally:
        server.shutdown()
        server.server_close()


def test_metrics_come_from_the_registry_given() -> None:
    registry = CollectorRegistry()
    Counter("jetbridge_probe_test", "a counter", registry=registry).inc(3)
    app = health_app(Health(), registry)
    seen: list[Any] = []
    body = b"".join(
        app({"PATH_INFO": "/metrics", "REQUEST_METHOD": "GET"}, lambda *a: seen.append(a))
    )
    assert seen[0][0].startswith("200") and b"jetbridge_probe_test_total 3.0" in body


def test_runtime_run_beats_beside_the_main_coroutine(monkeypatch: pytest.MonkeyPatch) -> None:
    beats: list[float] = []
    monkeypatch.setattr(HEALTH, "beat", lambda: beats.append(1.0))

    async def main() -> int:
        await asyncio.sleep(0)  # the heartbeat task runs once the main one yields
        return len(beats)

    assert run(main(), {}) == 1
