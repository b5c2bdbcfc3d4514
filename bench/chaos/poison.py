"""Malformed records on every topic in mid-failover, on the local stack (demo's world).

Right after a Controlled failover starts, two records no reader knows go onto each
event topic of the run: plain garbage, and bytes with the Avro single-object header
but a fingerprint no schema has. Checked: the failover still SUCCEEDS with no service
exiting; every poisoned record reaches the dead-letter topic from each consumer group
that follows its topic live (navigator, dispatcher, projections), with the ``dlq.*`` headers
naming the source topic, offset, group and reason, and the bytes unchanged.

    .venv/bin/python bench/chaos/poison.py [--deployments 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "deploy" / "local")]

from demo import DEST, OUT, SOURCE, bring_up_stack, phase  # noqa: E402

from bench.chaos.chaos import ChaosDemo  # noqa: E402
from jetbridge.common.kafka import EventPublisher  # noqa: E402
from jetbridge.common.topics import reports_topic  # noqa: E402

# The consumers that follow each topic live (the demo's wiring); each must dead-letter.
# Readers that replay a topic from its start on every start (the dispatcher's state
# reader, DP-Link's registrations, the console's ledger) skip such a record with a
# warning naming its offset instead: dead-lettering there would repeat at each start.
READERS = {
    "jetbridge.commands": {"navigator"},
    "jetbridge.flight.events": {"navigator"},
    reports_topic(SOURCE): {"navigator"},
    reports_topic(DEST): {"navigator"},
    "jetbridge.cluster.events": {"navigator"},
    "jetbridge.failover.events": {"dispatcher", "projections"},
}
POISON = (b"\x00not an event at all", b"\xc3\x01" + os.urandom(8) + b"unknown schema")


def group_kind(group: str) -> str:
    for kind in ("navigator", "dispatcher", "projections"):
        if kind in group:
            return kind
    return group


async def run(args: argparse.Namespace) -> dict[str, Any]:
    env = bring_up_stack()
    world = argparse.Namespace(
        deployments=args.deployments, exit_when_done=True, port=0, keep=False
    )
    demo = ChaosDemo(world, env)
    result: dict[str, Any] = {"scenario": "poison", "deployments": args.deployments}
    try:
        await demo.build()
        await demo.create_task_tables()
        sent: dict[tuple[str, int, int], bytes] = {}

        async def poison() -> None:
            while not demo.request_id:  # noqa: ASYNC110 - set by the demo, not ours to signal
                await asyncio.sleep(0.1)
            phase("malformed records onto every event topic, mid-failover")
            async with EventPublisher(demo.kafka, client_id="poisoner") as publisher:
                for topic in READERS:
                    for value in POISON:
                        full = demo.prefix + topic
                        partition, offset = await publisher.send_raw(full, b"poison", value, [])
                        sent[(full, partition, offset)] = value

        poisoning = asyncio.create_task(poison())
        detail = await demo.failover([])
        await poisoning
        await asyncio.sleep(3)  # the live projector dead-letters after its next batch
        letters = await demo.records(demo.prefix + "jetbridge.deadletter")
        groups: dict[tuple[str, int, int], set[str]] = defaultdict(set)
        intact = True
        for record in letters:
            h = {k: v.decode() for k, v in record.headers or []}
            where = (
                h["dlq.source_topic"],
                int(h["dlq.source_partition"]),
                int(h["dlq.source_offset"]),
            )
            if where in sent:
                groups[where].add(group_kind(h["dlq.consumer_group"]))
                intact &= record.value == sent[where] and bool(h.get("dlq.reason"))
        missing = {
            f"{topic}@{partition}:{offset}": sorted(READERS[topic.removeprefix(demo.prefix)] - got)
            for (topic, partition, offset), got in (
                (where, groups.get(where, set())) for where in sent
            )
            if READERS[topic.removeprefix(demo.prefix)] - got
        }
        result |= {
            "status": detail["status"],
            "poisoned": len(sent),
            "dead_letters": len(letters),
            "missing_dead_letters": missing,
            "bytes_and_reason_kept": intact,
            "services_exited": [c["service"] for c in demo.procs.crashes],
        }
        result["ok"] = (
            detail["status"] == "SUCCEEDED"
            and not missing
            and intact
            and not result["services_exited"]
        )
    finally:
        demo.procs.stop_all()
        await demo.cleanup()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=2)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    OUT.print(json.dumps(result), soft_wrap=True)
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
