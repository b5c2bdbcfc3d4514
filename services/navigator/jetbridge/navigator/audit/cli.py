"""``jetbridge audit ...``: verify, timeline, replay and export the Navigator's ledger.

    jetbridge audit verify [--topic T] [--heads-from env:NAME] [--json]
    jetbridge audit timeline REQUEST_ID [--json]
    jetbridge audit replay --at TIME [--into SCHEMA --dsn env:NAME] [--table T]
    jetbridge audit export [--since TIME] [--until TIME] --format jsonl|csv --out FILE

Kafka comes from ``JETBRIDGE_KAFKA_BOOTSTRAP_SERVERS`` (or the local stack's env file),
the chain key from ``JETBRIDGE_LEDGER_KEY``, the topic from ``JETBRIDGE_TOPIC_PREFIX`` +
``jetbridge.failover.events`` unless ``--topic``. TIME is ISO 8601 (no zone = UTC).
Exit codes are the console CLI's (``codes.py``): 0 ok, 2 usage, 5 request not found,
6 Kafka or the topic unavailable, 8 invalid input (e.g. ``--into`` a non-empty
schema), 9 the ledger has breaks. A DSN argument is ``env:NAME`` or a DSN without a
password (``jetbridge.common.dsn_argument``: arguments are visible in ``ps``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from typing import Any

from aiokafka.errors import KafkaError

from jetbridge.common import topics
from jetbridge.common.dsn_argument import dsn_argument
from jetbridge.common.settings import load_stack_settings
from jetbridge.navigator.audit import export, timeline
from jetbridge.navigator.audit.ledger import read_ledger
from jetbridge.navigator.audit.records import AuditEvent, decode_all
from jetbridge.navigator.audit.replay import replay_records, write_into
from jetbridge.navigator.audit.verify import break_json, heads_from, verify_ledger
from jetbridge.navigator.projections.rows import TABLES

OK, USAGE, NOT_FOUND, UNAVAILABLE, INVALID, BROKEN = 0, 2, 5, 6, 8, 9


def epoch_ms(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not ISO 8601") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="jetbridge audit", description=__doc__.split("\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--topic", help="the ledger topic (default: from the environment)")
    common.add_argument("--bootstrap", help="Kafka host:port (default: from the environment)")
    common.add_argument("--json", action="store_true", help="machine-readable output")
    sub = root.add_subparsers(dest="command", required=True)
    p = sub.add_parser("verify", parents=[common], help="walk the chains, report every break")
    p.add_argument(
        "--heads-from",
        metavar="DSN",
        type=dsn_argument,
        help="Navigator database (env:NAME, or a DSN without a password): also catch truncation",
    )
    p = sub.add_parser("timeline", parents=[common], help="the whole story of one failover")
    p.add_argument("request_id")
    p = sub.add_parser("replay", parents=[common], help="the read model as it was at TIME")
    p.add_argument("--at", required=True, type=epoch_ms, metavar="TIME")
    p.add_argument("--into", metavar="SCHEMA", help="write into this empty schema instead")
    p.add_argument(
        "--dsn",
        type=dsn_argument,
        help="database for --into: env:NAME, or a DSN without a password "
        "(default: JETBRIDGE_PROJECTIONS_DSN)",
    )
    p.add_argument("--table", choices=TABLES, action="append", help="only these tables")
    p = sub.add_parser("export", parents=[common], help="ledger events of a window to a file")
    p.add_argument("--since", type=epoch_ms, metavar="TIME")
    p.add_argument("--until", type=epoch_ms, metavar="TIME")
    p.add_argument("--format", choices=("jsonl", "csv"), required=True)
    p.add_argument("--out", required=True, help="file to write ('-' for stdout)")
    return root


def _say(args: argparse.Namespace, data: Any, text: str) -> None:
    sys.stdout.write((json.dumps(data, indent=2) if args.json else text) + "\n")


async def run(args: argparse.Namespace) -> int:
    stack = load_stack_settings()
    bootstrap = args.bootstrap or stack.kafka_bootstrap_servers
    topic = args.topic or os.environ.get("JETBRIDGE_TOPIC_PREFIX", "") + topics.FAILOVER_EVENTS
    if args.command == "verify":
        key = os.environ.get("JETBRIDGE_LEDGER_KEY") or stack.ledger_key
        if len(key) < 16:
            sys.stderr.write("error: set JETBRIDGE_LEDGER_KEY (>= 16 bytes)\n")
            return USAGE
        heads = await heads_from(args.heads_from) if args.heads_from else None
        read, breaks = await verify_ledger(bootstrap, topic, key.encode(), heads)
        lines = [f"{read} records read from {topic}; {len(breaks)} break(s)"]
        lines += [
            f"  {b.kind:<13} partition {b.partition} offset {b.offset} aggregate {b.aggregate_id}:"
            f" {b.detail}"
            for b in breaks
        ]
        doc = {"topic": topic, "records": read, "breaks": [break_json(b) for b in breaks]}
        _say(args, doc, "\n".join(lines))
        return BROKEN if breaks else OK
    raws = [raw async for raw in read_ledger(bootstrap, topic)]
    if args.command == "timeline":
        events = [e for e in decode_all(raws) if isinstance(e, AuditEvent)]
        state = replay_records(raws, 2**62, topic)
        told = timeline.build(events, state, args.request_id)
        if told is None:
            sys.stderr.write(f"error: the ledger never mentions request {args.request_id}\n")
            return NOT_FOUND
        _say(args, told, timeline.render(told))
        return OK
    if args.command == "replay":
        result = replay_records(raws, args.at, topic)
        if args.into:
            dsn = args.dsn or os.environ.get("JETBRIDGE_PROJECTIONS_DSN") or stack.postgres_dsn
            try:
                sums = await write_into(result, dsn, args.into)
            except ValueError as error:
                sys.stderr.write(f"error: {error}\n")
                return INVALID
            doc = {
                "schema": args.into,
                "events": result.events,
                "checksums": {t: {"rows": n, "md5": h} for t, (n, h) in sums.items()},
            }
            sys.stdout.write(json.dumps(doc, indent=2) + "\n")
            return OK
        doc = result.as_json()
        if args.table:
            doc["tables"] = {t: doc["tables"][t] for t in args.table}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return OK
    docs = export.documents(export.in_window(raws, args.since, args.until))
    if args.out == "-":
        count = export.write(docs, args.format, sys.stdout)
    else:
        count = await asyncio.to_thread(_write_file, docs, args.format, args.out)
        sys.stderr.write(f"{count} events written to {args.out}\n")
    return OK


def _write_file(docs: list[dict[str, Any]], fmt: str, path: str) -> int:
    with open(path, "w", encoding="utf-8", newline="") as stream:
        return export.write(docs, fmt, stream)


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    try:
        return asyncio.run(run(args))
    except (LookupError, ConnectionError, KafkaError, OSError) as error:
        sys.stderr.write(f"error: {error}\n")
        return UNAVAILABLE
    except KeyboardInterrupt:
        return 130
