"""How long a Dispatcher takes to start as the Navigator's log grows.

Every Dispatcher replica folds its gating state (endpoints, cancellations, live and
ended flights) from ``jetbridge.failover.events`` read whole from offset 0, and
dispatches nothing until it has caught up (``StateReader.sync``). The log keeps every
event for ever (auditors replay it), so that start-up grows with the installation's
history. This measures it: a realistic log from the in-process decision loop of
``bench/navigator/bench_navigator.py`` (N Deployments, R failovers there and back),
published as the Navigator's relay does (key, value, headers) to a private
12-partition topic on the stack's Kafka; then the Dispatcher's own ``StateReader`` on
a fresh ``DispatchState``, timed from start until ``ready`` (every partition read to
the end it had), with this process's CPU time over the same span and what the state
then holds. The topic is deleted after.

    .venv/bin/python -m bench.dispatcher.bench_state_replay [--deployments 1000] [--rounds 1 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.navigator.bench_navigator import run as run_navigator
from jetbridge.common.events import EventCodec
from jetbridge.common.kafka import EventPublisher
from jetbridge.common.kafka.headers import event_headers
from jetbridge.common.settings import load_stack_settings
from jetbridge.dispatcher.adapters.kafka import StateReader
from jetbridge.dispatcher.domain.model import STATE_EVENTS, DispatchState

PARTITIONS = 12


async def _publish(bootstrap: str, topic: str, log: list[Any]) -> None:
    codec = EventCodec()
    records = [
        (topic, e.envelope.aggregate_id.encode(), codec.encode(e), event_headers(e)) for e in log
    ]
    async with EventPublisher(bootstrap, client_id="bench-state-replay") as publisher:
        for i in range(0, len(records), 5000):
            await publisher.send_raw_many(records[i : i + 5000])


async def _replay(bootstrap: str, topic: str) -> dict[str, Any]:
    state = DispatchState()
    reader = StateReader(state, bootstrap, [topic])
    started, cpu = time.perf_counter(), time.process_time()
    await reader.replay.start()
    task = asyncio.create_task(reader.replay.run())
    await asyncio.wait_for(reader.replay.ready.wait(), timeout=1800)
    wall, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    await reader.replay.stop()
    await asyncio.gather(task, return_exceptions=True)
    return {
        "ready_after_s": round(wall, 2),
        "cpu_s": round(cpu_s, 2),
        "state": {
            "endpoints": len(state.endpoints),
            "planned": len(state.planned),
            "ended": len(state.ended),
            "cancelled_missions": len(state.cancelled_missions),
        },
    }


async def one(deployments: int, rounds: int) -> dict[str, Any]:
    made = await run_navigator(deployments, False, True, rounds)
    log = made["log"].events
    stack = load_stack_settings()
    bootstrap = stack.kafka_bootstrap_servers
    topic = f"benchdispatch{uuid.uuid4().hex[:8]}.jetbridge.failover.events"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
        await _publish(bootstrap, topic, log)
        replayed = await _replay(bootstrap, topic)
    finally:
        await admin.delete_topics([topic])
        await admin.close()
    state_events = sum(1 for e in log if e.event_type in STATE_EVENTS)
    return {
        "deployments": deployments,
        "failovers": 2 * rounds,
        "events": len(log),
        "state_events": state_events,
        **replayed,
        "events_per_s": round(len(log) / replayed["ready_after_s"]),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deployments", type=int, default=1000)
    parser.add_argument("--rounds", type=int, nargs="+", default=[1, 3])
    args = parser.parse_args()
    runs = [await one(args.deployments, rounds) for rounds in args.rounds]
    print(
        json.dumps(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
                "python": platform.python_version(),
                "load_average": os.getloadavg(),
                "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "runs": runs,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
