"""Who is calling: bearer token -> ``Principal`` (via the TokenVerifier port), then roles.

The verifier and the service live on ``app.state`` so these dependencies are plain
module-level functions FastAPI can introspect (and document in the OpenAPI).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from jetbridge.console.domain.roles import Action, Principal
from jetbridge.console.entrypoints.errors import Unauthenticated
from jetbridge.console.service_layer.console import ConsoleService
from jetbridge.console.service_layer.ports import ReadModel, TokenVerifier

bearer = HTTPBearer(
    auto_error=False, description="A console token; its role is viewer, operator or admin."
)


def service_of(request: Request) -> ConsoleService:
    service: ConsoleService = request.app.state.service
    return service


def read_model_of(request: Request) -> ReadModel:
    return service_of(request).read


async def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthenticated("Send 'Authorization: Bearer <token>'.")
    verifier: TokenVerifier = request.app.state.verifier
    who = await verifier.verify(credentials.credentials)
    if who is None:
        raise Unauthenticated("The token is not valid.")
    return who


def needs(action: Action) -> Callable[..., Awaitable[Principal]]:
    async def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        ConsoleService.authorise(who, action)
        return who

    return check


Caller = Annotated[Principal, Depends(principal)]
Reader = Annotated[Principal, Depends(needs(Action.READ))]
# Role checks as dependencies run before the body is validated: a viewer gets 403 for
# any write, well-formed or not (the service checks again: defence in depth).
Starter = Annotated[Principal, Depends(needs(Action.START_FAILOVER))]
Canceller = Annotated[Principal, Depends(needs(Action.CANCEL_FAILOVER))]
Enabler = Annotated[Principal, Depends(needs(Action.ENABLE_FAILOVER))]
Registrar = Annotated[Principal, Depends(needs(Action.REGISTER_CLUSTER))]
Undertaker = Annotated[Principal, Depends(needs(Action.DECLARE_CLUSTER_LOST))]
Planner = Annotated[Principal, Depends(needs(Action.PLAN))]
Service = Annotated[ConsoleService, Depends(service_of)]
Read = Annotated[ReadModel, Depends(read_model_of)]
