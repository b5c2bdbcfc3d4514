"""The least CPU a failover's records can cost on Kafka: moved and decoded, nothing else.

How far batching could take the end-to-end benchmark is bounded by the records the
design puts on Kafka. This benchmark moves exactly those records with no service
logic at all, in the cheapest way the client allows, so its CPU is a floor under any
implementation that keeps them:

* the records are a real failover's: the in-process Navigator of
  ``bench/navigator/bench_navigator.py`` fails over N Deployments (Forced by default)
  against a scripted data plane; what it stores is its log (``jetbridge.failover.events``,
  read by the projections, the Console and the Dispatcher's two readers), what the plane
  answers are the reports the Navigator reads. Encoded with the services' codec and
  headers, keyed by aggregate, on two private 12-partition topics;
* produced by one producer configured as every service's (idempotent, ``acks=all``,
  ``linger_ms=5``), every record sent before any acknowledgement is awaited: the largest
  batches a producer can make (a service sends as its work arrives, in smaller ones);
* consumed after they are all written, from the start of every partition, 500 records a
  fetch: the fullest fetches a consumer can get (a live reader, kept up to date, fetches
  a few records at a time). ``--readers`` readers of the log, one of the reports;
* each record's Avro payload decoded once per reader (``--no-decode`` leaves it out),
  as every reader must to act on it.

CPU is read from /proc: this process (the clients and the codec) and the broker's JVM,
per phase. Over PLAINTEXT, or with ``--tls`` over the mTLS listener with the control
plane's certificate, under the ACLs the services run with (bound for this run's topics).

    .venv/bin/python -m bench.kafka.bench_transport_floor [--deployments 1000] [--mode FORCED]
        [--readers 4] [--tls] [--out bench/results/kafka-floor.json]

Needs the local stack (``deploy/local/stack.py up``); deletes its topics afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.common.results import publish
from bench.e2e.stack_cpu import StackCpuMeter, cpu_model
from bench.navigator.bench_navigator import run as run_navigator
from jetbridge.common.events import EventCodec, EventRecord
from jetbridge.common.kafka.acls import plane_acls
from jetbridge.common.kafka.enrol import create_acls, delete_acls
from jetbridge.common.kafka.headers import event_headers
from jetbridge.common.kafka.security import KafkaSecurity
from jetbridge.common.settings import load_stack_settings
from jetbridge.common.tls import ensure_certificates

PARTITIONS = 12
FETCH_RECORDS = 500
Record = tuple[bytes, bytes, list[tuple[str, bytes]]]


def encode(codec: EventCodec, events: list[EventRecord]) -> list[Record]:
    return [(codec.key_of(e), codec.encode(e), event_headers(e)) for e in events]


class Meter:
    """CPU-seconds of this process and of the broker between ``start`` and ``stop``."""

    def __init__(self, stack: StackCpuMeter) -> None:
        self._stack = stack
        self._at: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def _now(self) -> tuple[float, float, float]:
        sample = self._stack.sample()
        return time.process_time(), sample.get("kafka", 0.0), time.monotonic()

    def start(self) -> None:
        self._at = self._now()

    def stop(self) -> dict[str, float]:
        client, broker, wall = (b - a for a, b in zip(self._at, self._now(), strict=True))
        return {
            "client_cpu_s": round(client, 2),
            "broker_cpu_s": round(broker, 2),
            "wall_s": round(wall, 2),
        }


async def produce(
    bootstrap: str, topic: str, records: list[Record], security: dict[str, Any]
) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="bench-floor",
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=1 << 20,
        **security,
    )
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value=value, key=key, headers=headers)
            for key, value, headers in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def consume(
    bootstrap: str,
    topic: str,
    expected: int,
    codec: EventCodec | None,
    security: dict[str, Any],
) -> int:
    """Read the whole topic from its start (no group), decoding each record if asked."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **security)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
        await consumer.seek_to_beginning()
        seen = 0
        while seen < expected:
            batches = await consumer.getmany(timeout_ms=1000, max_records=FETCH_RECORDS)
            for batch in batches.values():
                for record in batch:
                    if codec is not None and record.value is not None:
                        codec.decode(record.value)
                    seen += 1
        return seen
    finally:
        await consumer.stop()


def per_deployment(events: list[EventRecord], deployments: int) -> dict[str, float]:
    counts = Counter(e.event_type for e in events)
    return {kind: round(n / deployments, 2) for kind, n in counts.most_common()}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deployments", type=int, default=1000)
    parser.add_argument("--mode", choices=["FORCED", "CONTROLLED"], default="FORCED")
    parser.add_argument("--readers", type=int, default=4, help="readers of the log")
    parser.add_argument("--no-decode", action="store_true")
    parser.add_argument("--tls", action="store_true", help="mTLS, as the services connect")
    parser.add_argument("--out", type=Path, help="append the result to this JSON list")
    args = parser.parse_args()
    stack = load_stack_settings()
    admin_bootstrap = stack.kafka_bootstrap_servers  # PLAINTEXT, a super user
    bootstrap, security = admin_bootstrap, {}
    if args.tls:
        files = ensure_certificates(stack.state_dir, []).control_plane()
        bootstrap = stack.kafka_tls_bootstrap_servers
        security = KafkaSecurity(
            security_protocol="SSL",
            ssl_cafile=files.ca_cert,
            ssl_certfile=files.cert,
            ssl_keyfile=files.key,
        ).client_kwargs()
    made = await run_navigator(args.deployments, False, False, mode=args.mode)
    log_events: list[EventRecord] = made["log"].events
    reports: list[EventRecord] = made["reports"]
    codec = EventCodec()
    log_records, report_records = encode(codec, log_events), encode(codec, reports)
    sizes = [len(v) + len(k) + sum(len(n) + len(h) for n, h in hs) for k, v, hs in log_records]

    prefix = f"bench-floor-{uuid.uuid4().hex[:8]}."
    log_topic, reports_topic = prefix + "jetbridge.log", prefix + "jetbridge.reports"
    acls = plane_acls(prefix, [])  # the control plane's, on this run's topics
    admin = AIOKafkaAdminClient(bootstrap_servers=admin_bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in (log_topic, reports_topic)])
    await create_acls(admin_bootstrap, acls, security={})
    meter = Meter(StackCpuMeter(stack.state_dir))
    decoder = None if args.no_decode else codec
    phases: dict[str, dict[str, float]] = {}
    try:
        meter.start()
        await produce(bootstrap, log_topic, log_records, security)
        await produce(bootstrap, reports_topic, report_records, security)
        phases["produce"] = meter.stop()
        for reader in range(args.readers):
            meter.start()
            await consume(bootstrap, log_topic, len(log_records), decoder, security)
            phases[f"read log ({reader + 1})"] = meter.stop()
        meter.start()
        await consume(bootstrap, reports_topic, len(report_records), decoder, security)
        phases["read reports"] = meter.stop()
    finally:
        await delete_acls(admin_bootstrap, acls, security={})
        await admin.delete_topics([log_topic, reports_topic])
        await admin.close()

    client = sum(p["client_cpu_s"] for p in phases.values())
    broker = sum(p["broker_cpu_s"] for p in phases.values())
    n = args.deployments
    result: dict[str, Any] = {
        "benchmark": "kafka-transport-floor",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpu_model": cpu_model(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "deployments": n,
        "mode": args.mode,
        "decode": decoder is not None,
        "tls": args.tls,
        "records": {
            "log": len(log_records),
            "reports": len(report_records),
            "log_per_deployment": per_deployment(log_events, n),
            "reports_per_deployment": per_deployment(reports, n),
            "log_record_bytes_mean": round(sum(sizes) / len(sizes)),
            "handled": len(log_records) * (args.readers + 1) + len(report_records) * 2,
        },
        "phases": phases,
        "total_cpu_s": {
            "client": round(client, 2),
            "broker": round(broker, 2),
            "both": round(client + broker, 2),
        },
        "cpu_ms_per_deployment": round(1000 * (client + broker) / n, 2),
    }
    publish(result, args.out)


if __name__ == "__main__":
    asyncio.run(main())
