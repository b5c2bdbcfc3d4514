"""An in-memory Console over a ledger built from the Navigator's own decisions.

The read model is the real ``LedgerReadModel``; the ledger records are what the
Navigator's pure ``Fleet`` decides, mapped with its real ``EventMapper``. Only the
command sender is a recorder (these are unit tests: no broker).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from fastapi import FastAPI

from jetbridge.common.events import EventRecord, default_registry
from jetbridge.console.adapters.ledger import DEFAULT_EVENTS_KEPT, LedgerReadModel
from jetbridge.console.adapters.tokens import StaticTokens
from jetbridge.console.entrypoints.api import create_app
from jetbridge.console.service_layer.console import ConsoleService
from jetbridge.navigator.adapters.event_mapping import EventMapper
from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.commands import RequestFailover
from jetbridge.navigator.domain.vocabulary import FailoverMode, Health
from tests.unit.navigator.builders import T0, cluster_events, deployment

TOKENS = {
    "viewer": "viewer-token-0123456789",
    "operator": "operator-token-0123456789",
    "admin": "admin-token-0123456789",
}
TOKEN_TEXT = "\n".join(f"{role} {role}@example.com {token}" for role, token in TOKENS.items())


@dataclass
class RecordingSender:
    sent: list[EventRecord] = field(default_factory=list)

    async def send(self, command: EventRecord) -> None:
        self.sent.append(command)


@dataclass
class World:
    model: LedgerReadModel
    sender: RecordingSender
    app: FastAPI
    mapper: EventMapper
    now: int = T0 + 60_000

    def feed(self, events: list[ev.DomainEvent], actor: str | None = None) -> None:
        for e in events:
            record = self.mapper.to_record(
                e,
                correlation_id=e.aggregate_id,
                caused_by=None,
                actor=actor,
                occurred_at_ms=self.now,
            )
            self.model.ingest(record)

    def client(self, role: str | None = None, token: str | None = None) -> httpx.AsyncClient:
        headers = {}
        if role is not None:
            headers["Authorization"] = f"Bearer {TOKENS[role]}"
        elif token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://console", headers=headers
        )

    def decide(self, source: str, destination: str, request_id: str) -> None:
        """Let the Navigator's own domain accept and start a request, as on the ledger."""
        fleet = self.model.fleet
        command = RequestFailover(
            request_id=request_id,
            source_cluster_id=source,
            destination_cluster_id=destination,
            mode=FailoverMode.CONTROLLED,
            requested_by="carol@example.com",
        )
        decided = fleet.decide(command, self.now)
        self.feed(decided, actor="carol@example.com")
        self.feed(fleet.react(self.now))


def make_world(events_kept: int = DEFAULT_EVENTS_KEPT) -> World:
    mapper = EventMapper(default_registry(), producer="navigator/test")
    holder: dict[str, int] = {}
    model = LedgerReadModel(mapper, clock=lambda: holder["now"], events_kept=events_kept)
    sender = RecordingSender()
    service = ConsoleService(model, sender, clock=lambda: holder["now"], answer_timeout_s=0.0)
    app = create_app(service, StaticTokens.from_text(TOKEN_TEXT))
    world = World(model, sender, app, mapper)
    holder["now"] = world.now
    # east -> west is eligible; north -> south already runs; gray is unhealthy.
    for cid in ("east", "west", "north", "south"):
        world.feed(cluster_events(cid))
    world.feed(cluster_events("gray", health=Health.DEGRADED))
    world.feed([deployment(f"dep-{i}", "east", priority=i) for i in range(1, 4)])
    world.feed([deployment("dep-gs", "north", mechanism="IMAGE")])
    world.decide("north", "south", "fo-running-1")
    return world
