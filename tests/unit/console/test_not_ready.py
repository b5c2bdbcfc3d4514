"""While the Console cannot answer (Kafka not reached, the ledger not read), every API
route but the health check says so with 503, and nothing is read from the empty model
or sent; the health check answers 200 with ``ready`` false."""

from __future__ import annotations

import pytest
from aiokafka.errors import KafkaTimeoutError

from jetbridge.console.adapters.kafka_commands import KafkaCommandSender
from tests.unit.console.world import make_world

WHY = "The Console has not reached Kafka yet; nothing was read or sent."


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/clusters", None),
        ("GET", "/api/v1/failovers/fo-running-1", None),
        ("GET", "/api/v1/whoami", None),
        (
            "POST",
            "/api/v1/failovers",
            {"source_cluster_id": "east", "destination_cluster_id": "west", "mode": "FORCED"},
        ),
        ("POST", "/api/v1/failovers/fo-running-1/cancel", None),
    ],
)
async def test_every_route_answers_503_and_sends_nothing(
    method: str, path: str, body: dict[str, str] | None
) -> None:
    world = make_world()
    world.app.state.service.unavailable = lambda: WHY
    async with world.client("admin") as api:
        answer = await api.request(method, path, json=body)
    assert answer.status_code == 503, answer.text
    assert (answer.json()["error"], answer.json()["message"]) == ("UNAVAILABLE", WHY)
    assert answer.headers["Retry-After"] == "5"
    assert world.sender.sent == []


async def test_the_health_check_answers_and_says_not_ready() -> None:
    world = make_world()
    async with world.client() as api:
        assert (await api.get("/api/v1/health")).json()["ready"] is True
        world.app.state.service.unavailable = lambda: WHY
        answer = await api.get("/api/v1/health")
    assert answer.status_code == 200 and answer.json()["ready"] is False


async def test_once_available_the_same_routes_answer() -> None:
    world = make_world()
    reasons = [WHY]
    world.app.state.service.unavailable = lambda: reasons[0] if reasons else None
    async with world.client("viewer") as api:
        assert (await api.get("/api/v1/clusters")).status_code == 503
        reasons.clear()
        answer = await api.get("/api/v1/clusters")
    assert answer.status_code == 200 and {c["cluster_id"] for c in answer.json()} >= {"east"}


class UnacknowledgedPublisher:
    """A publisher whose broker went away after the Console started."""

    async def publish(self, command: object) -> None:
        raise KafkaTimeoutError()


async def test_a_command_kafka_does_not_acknowledge_is_503_and_says_it_may_be_written() -> None:
    """Before, the timeout escaped as a 500. Unacknowledged is not unwritten: the
    answer says so, and that a repeat is safe."""
    world = make_world()
    sender = KafkaCommandSender("127.0.0.1:1")
    sender._publisher = UnacknowledgedPublisher()  # type: ignore[assignment]
    world.app.state.service.sender = sender
    async with world.client("operator") as api:
        start = {"source_cluster_id": "east", "destination_cluster_id": "west"}
        answer = await api.post("/api/v1/failovers", json=start | {"mode": "CONTROLLED"})
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert body["error"] == "UNAVAILABLE"
    assert "did not acknowledge the command (KafkaTimeoutError)" in body["message"]
    assert "may have been written" in body["message"] and "same request_id" in body["message"]
