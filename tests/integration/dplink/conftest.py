from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from jetbridge.flightdeck import Flightdeck
from tests.integration.planes import flightdeck_on


@pytest.fixture
async def deck(postgres_dsn: str) -> AsyncIterator[Flightdeck]:
    """The agents' Flightdeck (the Link stream never touches it, StartFlight would)."""
    async with flightdeck_on(postgres_dsn) as flightdeck:
        yield flightdeck
