"""One error shape for every 4xx (``ErrorBody``): a code, a sentence, fields and rules."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from jetbridge.console.domain.roles import REQUIRED
from jetbridge.console.entrypoints.bodies import ErrorBody
from jetbridge.console.service_layer.console import Forbidden, Invalid, NotFound, Refused
from jetbridge.console.service_layer.ports import CommandsUnavailable

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 422, 503)
}


class Unauthenticated(Exception):
    pass


def _json(status: int, body: ErrorBody, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


async def _unauthenticated(_: Request, e: Exception) -> JSONResponse:
    body = ErrorBody(error="UNAUTHENTICATED", message=str(e))
    return _json(401, body, {"WWW-Authenticate": 'Bearer realm="jetbridge"'})


async def _forbidden(_: Request, e: Exception) -> JSONResponse:
    assert isinstance(e, Forbidden)
    message = f"{e}: needs the {REQUIRED[e.action].value} role."
    return _json(403, ErrorBody(error="FORBIDDEN", message=message))


async def _not_found(_: Request, e: Exception) -> JSONResponse:
    return _json(404, ErrorBody(error="NOT_FOUND", message=str(e)))


async def _invalid(_: Request, e: Exception) -> JSONResponse:
    assert isinstance(e, Invalid)
    problems = [{"field": p.field, "rule": p.rule, "message": p.message} for p in e.problems]
    return _json(422, ErrorBody(error="INVALID", message=str(e), problems=problems))


async def _refused(_: Request, e: Exception) -> JSONResponse:
    assert isinstance(e, Refused)
    reasons = [r.model_dump() for r in e.reasons]
    return _json(409, ErrorBody(error=e.code, message=str(e), reasons=reasons))


def unavailable(why: str) -> JSONResponse:
    """Not ready yet (Kafka away, the ledger still read): a retry later may pass.
    Nothing was read or sent."""
    return _json(503, ErrorBody(error="UNAVAILABLE", message=why), {"Retry-After": "5"})


async def _unavailable(_: Request, e: Exception) -> JSONResponse:
    return unavailable(str(e))


async def _malformed(_: Request, e: Exception) -> JSONResponse:
    """FastAPI's validation errors, reshaped: ``field`` is the dotted location."""
    assert isinstance(e, RequestValidationError)
    problems = [
        {
            "field": ".".join(str(x) for x in err.get("loc", ())[1:]) or str(err.get("loc", "")),
            "rule": str(err.get("type", "invalid")),
            "message": str(err.get("msg", "")),
        }
        for err in e.errors()
    ]
    text = "; ".join(f"{p['field']}: {p['message']}" for p in problems) or "invalid request"
    return _json(422, ErrorBody(error="INVALID", message=text, problems=problems))


async def _http(_: Request, e: Exception) -> JSONResponse:
    """Starlette's own refusals (a body that is not even JSON, an unknown route)."""
    assert isinstance(e, StarletteHTTPException)
    code = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(
        e.status_code, "HTTP_ERROR"
    )
    body = ErrorBody(error=code, message=str(e.detail))
    return _json(e.status_code, body, dict(e.headers) if e.headers else None)


def install(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Unauthenticated, _unauthenticated)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(Invalid, _invalid)
    app.add_exception_handler(Refused, _refused)
    app.add_exception_handler(CommandsUnavailable, _unavailable)
    app.add_exception_handler(RequestValidationError, _malformed)
