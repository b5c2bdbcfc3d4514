"""A real event store relay process for the SIGKILL test.

Usage: relay_process.py DSN BOOTSTRAP BATCH_SIZE MARKER_FILE PAUSE_S

After each batch is acknowledged by Kafka and BEFORE the relay's position moves past
it, it appends the batch's positions to MARKER_FILE and pauses PAUSE_S: the test kills
the process in exactly that window, the worst moment for an outbox.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from jetbridge.common.eventstore import EventStoreRelay
from jetbridge.common.kafka import EventPublisher


async def main(dsn: str, bootstrap: str, batch_size: int, marker: Path, pause_s: float) -> None:
    async def after_publish(positions: Sequence[int]) -> None:
        with marker.open("a") as file:
            file.write(f"{positions[0]}-{positions[-1]}\n")
        await asyncio.sleep(pause_s)

    async with EventPublisher(bootstrap, client_id="test-relay") as publisher:
        relay = EventStoreRelay(
            dsn,
            publisher,
            batch_size=batch_size,
            poll_interval_s=0.1,
            after_publish=after_publish if pause_s > 0 else None,
        )
        await relay.run()


if __name__ == "__main__":
    dsn, bootstrap, batch, marker, pause = sys.argv[1:6]
    asyncio.run(main(dsn, bootstrap, int(batch), Path(marker), float(pause)))
