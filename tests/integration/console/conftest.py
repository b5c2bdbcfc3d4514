from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.console.world import ConsoleWorld, console_world


@pytest.fixture(scope="module")
async def world(postgres_dsn: str, kafka_bootstrap: str) -> AsyncIterator[ConsoleWorld]:
    """One control plane per test module; tests use their own cluster names."""
    async with console_world(postgres_dsn, kafka_bootstrap) as w:
        yield w
