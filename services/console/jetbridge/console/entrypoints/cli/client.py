"""A small async client of the Console API: the CLI's only way in (no shortcut to Kafka)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from jetbridge.console.entrypoints.cli.codes import Exit, for_http_status


class CliError(Exception):
    def __init__(self, code: Exit, message: str, body: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.body = body


class ConsoleClient:
    def __init__(self, url: str, token: str, *, timeout_s: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers, timeout=timeout_s)

    async def __aenter__(self) -> ConsoleClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._http.aclose()

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, "/api/v1" + path, **kwargs)
        except httpx.HTTPError as error:
            raise CliError(Exit.UNAVAILABLE, f"cannot reach the console: {error!r}") from error
        if response.is_success:
            return response.json()
        raise _error(response)

    async def get(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None and v != []}
        return await self.call("GET", path, params=clean)

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return await self.call("POST", path, json=body)

    async def changes(self, **params: Any) -> AsyncIterator[dict[str, Any]]:
        """The live stream: one dict per ``change`` or ``gap`` event (a gap: the Console no
        longer holds what came since ``after``), until the server closes it."""
        clean = {k: v for k, v in params.items() if v is not None}
        timeout = httpx.Timeout(30.0, read=None)
        try:
            async with self._http.stream(
                "GET", "/api/v1/stream", params=clean, timeout=timeout
            ) as response:
                if not response.is_success:
                    await response.aread()
                    raise _error(response)
                event = ""
                async for line in response.aiter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event in ("change", "gap"):
                        yield json.loads(line[6:])
        except httpx.HTTPError as error:
            raise CliError(Exit.UNAVAILABLE, f"live stream lost: {error!r}") from error


def _error(response: httpx.Response) -> CliError:
    try:
        body = response.json()
    except ValueError:
        body = {"message": response.text[:500]}
    message = body.get("message") if isinstance(body, dict) else None
    return CliError(
        for_http_status(response.status_code), message or f"HTTP {response.status_code}", body
    )
