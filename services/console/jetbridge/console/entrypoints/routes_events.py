"""The audit log (filterable, paged) and the live stream of changes (SSE)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from jetbridge.console.domain.audit import AuditEntry, EventFilter
from jetbridge.console.domain.intents import Problem
from jetbridge.console.entrypoints.auth import Read, Reader
from jetbridge.console.entrypoints.errors import ERRORS
from jetbridge.console.entrypoints.stream import change_stream
from jetbridge.console.service_layer.console import Invalid
from jetbridge.console.service_layer.views import EventPage, EventView

router = APIRouter(prefix="/api/v1", tags=["events"], responses=ERRORS)
MAX_SEQ = 2**62
ISO_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


class EventQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str | None = None
    deployment_id: str | None = None
    cluster_id: str | None = None
    type: list[str] = Field(default_factory=list, description="Event types (repeatable).")
    since: datetime | None = Field(None, description="ISO 8601 date-time; inclusive.")
    until: datetime | None = Field(None, description="ISO 8601 date-time; exclusive.")
    after: int = Field(0, ge=0, le=MAX_SEQ, description="Oldest first, after this seq.")
    before: int | None = Field(None, ge=1, le=MAX_SEQ, description="Only seqs below this.")
    limit: int = Field(200, ge=1, le=1000)
    order: Literal["asc", "desc"] = "asc"

    @field_validator("since", "until", mode="before")
    @classmethod
    def _iso_only(cls, value: object) -> object:
        """The schema says date-time: a bare number is not one (no epoch guessing)."""
        if isinstance(value, str) and ISO_NUMBER.fullmatch(value.strip()):
            raise ValueError("must be an ISO 8601 date-time, e.g. 2025-01-31T12:00:00Z")
        return value

    def where(self) -> EventFilter:
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise Invalid([Problem("until", "after_since", "until must be later than since")])
        return EventFilter(
            request_id=self.request_id,
            deployment_id=self.deployment_id,
            cluster_id=self.cluster_id,
            event_types=frozenset(self.type),
            since_ms=_ms(self.since),
            until_ms=_ms(self.until),
            after_seq=self.after,
            before_seq=self.before,
        )


@router.get("/events")
async def events(q: Annotated[EventQuery, Query()], _: Reader, read: Read) -> EventPage:
    """The audit log, filterable; page with ``after`` (asc) or ``before`` (desc)."""
    found = await read.events(q.where(), q.limit + 1, newest_first=q.order == "desc")
    page = found[: q.limit]
    empty_cursor = q.after if q.order == "asc" else (q.before or 0)
    last = page[-1].seq if page else empty_cursor
    return EventPage(
        events=[event_view(e) for e in page],
        last_seq=last,
        more=len(found) > q.limit,
        first_seq=read.first_seq(),
    )


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "change events"}},
)
async def stream(
    request: Request,
    _: Reader,
    read: Read,
    *,
    request_id: str | None = None,
    cluster_id: str | None = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_SEQ)] = None,
    last_event_id: Annotated[int | None, Header(ge=0, le=MAX_SEQ)] = None,
) -> StreamingResponse:
    """Server-sent events: a ``change`` per ledger event applied (resume with ``after`` or
    ``Last-Event-ID``, which a browser's EventSource sends by itself on reconnecting: the
    last ``id`` it received), and a comment every 15 s so proxies keep the connection
    open. A ``Last-Event-ID`` that is not such a seq gets 422 naming it."""
    cursor = after if after is not None else last_event_id
    where = EventFilter(request_id=request_id, cluster_id=cluster_id)
    return StreamingResponse(
        change_stream(read, where, cursor, request.is_disconnected),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def event_view(e: AuditEntry) -> EventView:
    return EventView(
        seq=e.seq,
        event_id=e.event_id,
        event_type=e.event_type,
        aggregate_type=e.aggregate_type,
        aggregate_id=e.aggregate_id,
        occurred_at=e.occurred_at,
        actor=e.actor,
        producer=e.producer,
        causation_id=e.causation_id,
        request_id=e.request_id,
        deployment_id=e.deployment_id,
        cluster_ids=list(e.cluster_ids),
        partition=e.partition,
        offset=e.offset,
        payload=dict(e.payload),
    )
