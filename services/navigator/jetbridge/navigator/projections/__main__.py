"""``python -m jetbridge.navigator.projections [run | rebuild --into X | checksum]``.

- ``run`` (default): the live projector of the ledger into ``JETBRIDGE_PROJECTIONS_SCHEMA``.
- ``rebuild --into X``: replay the whole ledger into X, an empty schema of the
  projections database or a ``postgresql://`` DSN of another database; prints the
  figures and the checksum of every table as JSON.
- ``checksum [--schema S]``: the checksum of every table of a read model, to compare
  a rebuilt one with the live one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys

from pydantic import Field
from pydantic_settings import BaseSettings

from jetbridge.common import runtime, topics
from jetbridge.common.dsn_argument import ENV_PREFIX, dsn_argument
from jetbridge.common.kafka import EventPublisher
from jetbridge.common.kafka.deadletter import DeadLetterPublisher
from jetbridge.common.logs import configure_logging
from jetbridge.common.metrics import start_metrics_server
from jetbridge.common.reachable import wait_for_kafka, wait_for_postgres
from jetbridge.common.settings import env_file_path, service_config
from jetbridge.navigator.projections.projector import Projector
from jetbridge.navigator.projections.store import ReadModelStore

log = logging.getLogger(__name__)


class ProjectionSettings(BaseSettings):
    model_config = service_config("JETBRIDGE_")

    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    projections_dsn: str = Field(default="", description="defaults to the Navigator's DSN")
    navigator_dsn: str = ""
    projections_schema: str = "navigator_read"
    projections_batch: int = 5000
    projections_linger_ms: int = Field(
        default=250,
        ge=0,
        description="after a fetch, gather records this long before writing them together",
    )
    topic_prefix: str = ""

    @property
    def dsn(self) -> str:
        dsn = self.projections_dsn or self.navigator_dsn
        if not dsn:
            raise SystemExit("set JETBRIDGE_PROJECTIONS_DSN (or JETBRIDGE_NAVIGATOR_DSN)")
        return dsn

    @property
    def ledger_topic(self) -> str:
        return self.topic_prefix + topics.FAILOVER_EVENTS


async def run(settings: ProjectionSettings) -> None:
    await wait_for_postgres(settings.dsn)  # an outage at start is waited out, not exited
    await wait_for_kafka(settings.kafka_bootstrap_servers)
    store = await ReadModelStore.open(settings.dsn, settings.projections_schema)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    publisher = EventPublisher(settings.kafka_bootstrap_servers, client_id="projections")
    try:
        await publisher.start()
        projector = Projector(
            store,
            settings.kafka_bootstrap_servers,
            settings.ledger_topic,
            batch=settings.projections_batch,
            linger_ms=settings.projections_linger_ms,
            dead_letters=DeadLetterPublisher(
                publisher,
                consumer_group="projections",
                topic=settings.topic_prefix + topics.DEAD_LETTER,
            ),
        )
        await projector.run(stop)
    finally:
        await publisher.stop()
        await store.close()


async def rebuild(settings: ProjectionSettings, into: str) -> dict[str, object]:
    dsn, schema = (into, settings.projections_schema) if "://" in into else (settings.dsn, into)
    store = await ReadModelStore.open(dsn, schema)
    try:
        projector = Projector(
            store, settings.kafka_bootstrap_servers, settings.ledger_topic, batch=20_000
        )
        report = await projector.rebuild()
    finally:
        await store.close()
    return {
        "schema": schema,
        "events": report.events,
        "applied": report.applied,
        "repeats_dropped": report.repeats,
        "refused": report.refused,
        "undecodable": report.undecodable,
        "rows_written": report.rows,
        "seconds": round(report.seconds, 3),
        "events_per_s": round(report.events_per_s),
        "checksums": {t: {"rows": n, "md5": h} for t, (n, h) in report.checksums.items()},
    }


async def checksum(settings: ProjectionSettings, schema: str) -> dict[str, object]:
    store = await ReadModelStore.open(settings.dsn, schema)
    try:
        sums = await store.checksums()
    finally:
        await store.close()
    return {"schema": schema, "checksums": {t: {"rows": n, "md5": h} for t, (n, h) in sums.items()}}


def _schema_or_dsn(text: str) -> str:
    return dsn_argument(text) if text.startswith(ENV_PREFIX) or "://" in text else text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m jetbridge.navigator.projections")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="the live projector (default)")
    rb = sub.add_parser("rebuild", help="replay the ledger into an empty read model")
    rb.add_argument(
        "--into",
        required=True,
        type=_schema_or_dsn,
        help="schema name, or a database: env:NAME or a postgresql:// DSN without a password",
    )
    ck = sub.add_parser("checksum", help="checksums of every table of a read model")
    ck.add_argument("--schema", default=None)
    args = parser.parse_args(argv)
    configure_logging("projections")
    env_file = env_file_path()
    settings = ProjectionSettings(_env_file=env_file if env_file.exists() else None)  # type: ignore[call-arg]
    if args.command == "rebuild":
        print(json.dumps(asyncio.run(rebuild(settings, args.into)), indent=2))
    elif args.command == "checksum":
        schema = args.schema or settings.projections_schema
        print(json.dumps(asyncio.run(checksum(settings, schema)), indent=2))
    else:
        start_metrics_server()
        runtime.run(run(settings))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
