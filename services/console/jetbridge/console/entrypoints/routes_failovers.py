"""Failover requests: plan (dry run), start, list, detail, cancel."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from jetbridge.console.entrypoints.auth import Canceller, Planner, Read, Reader, Service, Starter
from jetbridge.console.entrypoints.bodies import CLUSTER_ID, FailoverBody
from jetbridge.console.entrypoints.errors import ERRORS
from jetbridge.console.service_layer.console import NotFound, new_request_id
from jetbridge.console.service_layer.views import (
    CommandAccepted,
    PlanView,
    RequestDetail,
    RequestSummary,
)

router = APIRouter(prefix="/api/v1/failovers", tags=["failovers"], responses=ERRORS)
Status = Literal["PENDING", "IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED", "CANCELLED"]


@router.post("/plan")
async def plan(body: FailoverBody, who: Planner, service: Service) -> PlanView:
    """Dry run: every blocking reason, warning, mission and flight; creates nothing."""
    return await service.plan(who, body.intent("dry-run"))


@router.post("", status_code=202)
async def start(body: FailoverBody, who: Starter, service: Service) -> CommandAccepted:
    """Operator: start a failover (FORCED also needs ``confirm_forced: true``).

    Checked first (nothing is sent when it would be refused: 409 with every reason),
    then sent as a RequestFailover command; the answer holds the Navigator's decision
    when it came within a few seconds.
    """
    return await service.start(who, body.intent(new_request_id()))


@router.get("")
async def failovers(
    _: Reader,
    read: Read,
    status: Annotated[Status | None, Query()] = None,
    cluster_id: Annotated[str | None, Query(pattern=CLUSTER_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[RequestSummary]:
    """Failover requests, newest first (the history)."""
    return await read.requests(status=status, cluster_id=cluster_id, limit=limit)


@router.get("/{request_id}")
async def failover(request_id: str, _: Reader, read: Read) -> RequestDetail:
    """One failover: missions, flights, steps and their timings, every reason."""
    found = await read.request(request_id)
    if found is None:
        raise NotFound(f"no failover request {request_id!r}")
    return found


@router.post("/{request_id}/cancel", status_code=202)
async def cancel(request_id: str, who: Canceller, service: Service) -> CommandAccepted:
    """Operator: missions not started yet are cancelled, running ones run to their end
    (a mission mid-fence is not stopped half-way). The request ends CANCELLED when the
    cancel cancelled a mission; one that came after every mission had started cancels
    nothing, and the request ends as its missions do (SUCCEEDED or FAILED). By default
    every mission starts at once (max_concurrent_missions 0), so cancel early, or set
    max_concurrent_missions, to hold missions back."""
    return await service.cancel(who, request_id)
