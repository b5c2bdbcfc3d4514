"""The HTTP API (FastAPI): OpenAPI at ``/api/openapi.json``, docs at ``/api/docs``, UI at ``/``.

Reads go to the ReadModel, changes leave as commands; each route states the role it
needs (``domain.roles``). Errors share one shape (``ErrorBody``): 401 no or unknown
token, 403 role too low, 404 unknown id, 409 refused by the fleet's state (with every
reason), 422 malformed or unconfirmed (each field and the rule it broke), 503 not ready
(Kafka not reached or the ledger not read yet: nothing was read or sent).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from jetbridge.console.domain.intents import MODE_HELP
from jetbridge.console.domain.roles import Action
from jetbridge.console.entrypoints import errors, routes_clusters, routes_events, routes_failovers
from jetbridge.console.entrypoints.auth import Caller, Reader, Service
from jetbridge.console.entrypoints.bodies import ModeHelp
from jetbridge.console.service_layer.console import ConsoleService
from jetbridge.console.service_layer.ports import TokenVerifier
from jetbridge.console.service_layer.views import Readiness, WhoAmI

STATIC = Path(__file__).resolve().parent / "static"
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_app(
    service: ConsoleService, verifier: TokenVerifier, *, lifespan: Lifespan | None = None
) -> FastAPI:
    app = FastAPI(
        title="Jetbridge Console",
        version="1.0.0",
        summary="See and drive data-plane failovers: clusters, eligibility, failovers, audit.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.verifier = verifier
    errors.install(app)
    app.middleware("http")(_until_available)
    app.add_api_route("/api/v1/health", health, methods=["GET"], tags=["service"])
    for path, endpoint in (("/api/v1/whoami", whoami), ("/api/v1/modes", modes)):
        app.add_api_route(
            path, endpoint, methods=["GET"], tags=["service"], responses=errors.ERRORS
        )
    app.include_router(routes_clusters.router)
    app.include_router(routes_failovers.router)
    app.include_router(routes_events.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_api_route("/", index, methods=["GET"], include_in_schema=False)
    return app


async def _until_available(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Every API route but the health check answers 503 while the Console cannot."""
    path = request.url.path
    if path.startswith("/api/v1/") and path != "/api/v1/health":
        service: ConsoleService = request.app.state.service
        if (why := service.unavailable()) is not None:
            return errors.unavailable(why)
    return await call_next(request)


async def health(service: Service) -> Readiness:
    """No token needed: is the read model caught up with the ledger, and the API open?"""
    read = service.read
    ready = read.ready and service.unavailable() is None
    return Readiness(ready=ready, last_seq=read.last_seq(), fold_errors=read.fold_errors)


async def whoami(who: Caller) -> WhoAmI:
    """The caller's subject, role and the actions that role allows."""
    return WhoAmI(
        subject=who.subject, role=who.role.value, may=[a.value for a in Action if who.may(a)]
    )


async def modes(_: Reader) -> list[ModeHelp]:
    """What each failover mode does, in the words the UI shows at the point of choice."""
    return [ModeHelp(mode=m, help=text) for m, text in MODE_HELP.items()]


async def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})
