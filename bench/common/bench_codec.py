"""What one event costs the codec: ``EventCodec.encode`` and ``decode`` per record.

Why: every event is encoded once and decoded by each service that reads it (the
Navigator at every start, the Console, the Dispatcher, DP-Link), so the codec's cost
per record is paid a few times over for each of the ~30 records a Deployment's
failover writes (docs/benchmarks.md, "What one Deployment costs").

The records are real: the Navigator's log and the scripted plane's reports of a
Controlled failover and a Forced failback of ``--deployments`` Deployments, made by
the in-process decision loop of ``bench/navigator/bench_navigator.py``. Each pass
encodes every record, then decodes every encoded one, timed with this process's CPU
clock; the best and median of ``--passes`` are kept, in microseconds per record. A
check decodes every record back to the event that was encoded (its envelope, and each
payload field it set; the schema's defaults fill in the rest).

    PYTHONPATH=. .venv/bin/python bench/common/bench_codec.py --out F.json
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

from bench.common.results import header, publish
from bench.navigator.bench_navigator import run as decide
from jetbridge.common.events import EventCodec, EventRecord


def records(deployments: int) -> list[EventRecord]:
    made = asyncio.run(decide(deployments, False, True, 1))
    return [*made["log"].events, *made["reports"]]


def one_pass(codec: EventCodec, events: list[EventRecord]) -> tuple[float, float, list[bytes]]:
    started = time.process_time()
    encoded = [codec.encode(event) for event in events]
    encoding = time.process_time() - started
    started = time.process_time()
    for data in encoded:
        codec.decode(data)
    return encoding, time.process_time() - started, encoded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=1000)
    parser.add_argument("--passes", type=int, default=7)
    parser.add_argument("--label", default="")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    events = records(args.deployments)
    codec = EventCodec()
    encodes, decodes = [], []
    for _ in range(args.passes):
        encoding, decoding, encoded = one_pass(codec, events)
        encodes.append(encoding * 1e6 / len(events))
        decodes.append(decoding * 1e6 / len(events))
    for event, data in zip(events, encoded, strict=True):
        back = codec.decode(data)  # the payload with the schema's defaults filled in
        if back.envelope != event.envelope or any(
            back.payload[k] != v for k, v in event.payload.items()
        ):
            raise SystemExit(f"{event.event_type} did not decode back to what was encoded")
    result: dict[str, Any] = {
        **header(args.label),
        "records": len(events),
        "mean_bytes": round(sum(map(len, encoded)) / len(encoded)),
        "passes": args.passes,
        "encode_us": {
            "best": round(min(encodes), 2),
            "median": round(statistics.median(encodes), 2),
        },
        "decode_us": {
            "best": round(min(decodes), 2),
            "median": round(statistics.median(decodes), 2),
        },
    }
    publish(result, args.out)


if __name__ == "__main__":
    main()
