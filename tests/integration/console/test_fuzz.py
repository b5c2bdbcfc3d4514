"""Schemathesis fuzzes the live Console from its own OpenAPI document.

Every operation but the endless stream, with an admin token (so every operation is
reachable), on the real stack: no 5xx, every status and response body is the documented
one, and input that breaks the schema is refused (4xx).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.integration.console.world import TOKENS, ConsoleWorld

SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
CHECKS = (
    "not_a_server_error,response_schema_conformance,negative_data_rejection,status_code_conformance"
)


async def test_schemathesis_finds_no_server_error(world: ConsoleWorld) -> None:
    await world.seed("fz-east", "fz-west", ["fz-a"])
    proc = await asyncio.create_subprocess_exec(
        SCHEMATHESIS,
        "run",
        f"{world.url}/api/openapi.json",
        "--checks",
        CHECKS,
        "--header",
        f"Authorization: Bearer {TOKENS['admin']}",
        "--exclude-path",
        "/api/v1/stream",
        "--max-examples",
        "40",
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "1",
        "--seed",
        "1",
        "--no-color",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=600)
    text = out.decode()
    print(text[-3000:])
    assert proc.returncode == 0, text[-6000:]
