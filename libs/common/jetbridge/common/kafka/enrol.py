"""What the brokers need before a data plane reports: its topic and the planes' ACLs.

Each data plane publishes on a topic of its own (``jetbridge.common.topics.
reports_topic``), configured like ``jetbridge.flight.events``; the ACLs
(``jetbridge.common.kafka.acls``) let only that cluster write it. :func:`enrol` creates
both (an existing topic or binding is left as it is, so it may run on every start).
The caller must be allowed to create topics and alter ACLs (a super user).

aiokafka's admin client has no ACL methods, but it ships the CreateAcls and DeleteAcls
requests of Kafka's protocol; the client negotiates their version with the broker.

    python -m jetbridge.common.kafka.enrol --cluster dp-east --print
    python -m jetbridge.common.kafka.enrol --bootstrap host:9092 --cluster dp-east
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.protocol.admin import CreateAclsRequest, DeleteAclsRequest

from jetbridge.common.kafka.acls import Acl, Permission, plane_acls
from jetbridge.common.kafka.security import kafka_security
from jetbridge.common.topics import TopicSpec, reports_topic_spec

ANY_HOST = "*"
TOPIC_ALREADY_EXISTS = 36


class EnrolError(RuntimeError):
    """The broker refused a topic or a binding (the message names it and the reason)."""


def reports_topics(clusters: Iterable[str]) -> list[TopicSpec]:
    return [reports_topic_spec(c) for c in sorted(set(clusters))]


async def enrol(
    bootstrap: str,
    prefix: str,
    clusters: Iterable[str],
    *,
    security: dict[str, Any] | None = None,
) -> None:
    """Each cluster's reports topic and every binding the planes need."""
    clusters = sorted(set(clusters))
    acls = plane_acls(prefix, clusters)  # validates the ids before anything is created
    await create_topics(bootstrap, prefix, reports_topics(clusters), security=security)
    await create_acls(bootstrap, acls, security=security)


async def create_topics(
    bootstrap: str,
    prefix: str,
    specs: Sequence[TopicSpec],
    *,
    security: dict[str, Any] | None = None,
) -> None:
    if not specs:
        return
    async with _admin(bootstrap, security) as admin:
        response = await admin.create_topics(
            [NewTopic(prefix + s.name, s.partitions, 1, topic_configs=s.config()) for s in specs],
            timeout_ms=30000,
        )
    for name, code, *rest in response.topic_errors:
        if code not in (0, TOPIC_ALREADY_EXISTS):
            raise EnrolError(f"creating topic {name}: error {code} {rest}")


async def create_acls(
    bootstrap: str, acls: Sequence[Acl], *, security: dict[str, Any] | None = None
) -> None:
    async with _admin(bootstrap, security) as admin:
        for acl in acls:
            request = CreateAclsRequest(*_fields(acl))
            response = await admin._send_request(request)  # aiokafka: no public ACL API
            for code, message in response.creation_responses:
                if code:
                    raise EnrolError(f"creating {acl}: error {code} {message or ''}".rstrip())


async def delete_acls(
    bootstrap: str, acls: Sequence[Acl], *, security: dict[str, Any] | None = None
) -> int:
    """Remove exactly these bindings; returns how many the broker removed."""
    removed = 0
    async with _admin(bootstrap, security) as admin:
        for acl in acls:
            response = await admin._send_request(DeleteAclsRequest(*_fields(acl)))
            for code, message, matching in response.filter_responses:
                if code:
                    raise EnrolError(f"deleting {acl}: error {code} {message or ''}".rstrip())
                removed += len(matching)
    return removed


def _fields(acl: Acl) -> tuple[int, str, int, str, str, int, int]:
    return (
        int(acl.resource_type),
        acl.resource_name,
        int(acl.pattern),
        acl.principal,
        ANY_HOST,
        int(acl.operation),
        int(Permission.ALLOW),
    )


@asynccontextmanager
async def _admin(
    bootstrap: str, security: dict[str, Any] | None
) -> AsyncIterator[AIOKafkaAdminClient]:
    extra = kafka_security() if security is None else security
    client = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="jetbridge-enrol", request_timeout_ms=10000, **extra
    )
    await client.start()
    try:
        yield client
    finally:
        await client.close()


def commands(prefix: str, clusters: Sequence[str]) -> list[str]:
    """The same set-up as ``kafka-topics.sh`` / ``kafka-acls.sh`` arguments."""
    acls = plane_acls(prefix, clusters)
    lines = [
        shlex.join(
            [
                "kafka-topics.sh",
                "--create",
                "--if-not-exists",
                "--topic",
                prefix + s.name,
                "--partitions",
                str(s.partitions),
                *(arg for k, v in s.config().items() for arg in ("--config", f"{k}={v}")),
            ]
        )
        for s in reports_topics(clusters)
    ]
    return lines + [shlex.join(["kafka-acls.sh", *acl.kafka_acls_args()]) for acl in acls]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--prefix", default="", help="the services' JETBRIDGE_TOPIC_PREFIX")
    parser.add_argument("--cluster", action="append", default=[], help="a data plane's cluster id")
    parser.add_argument("--bootstrap", help="a broker to set up (as a super user)")
    parser.add_argument("--print", action="store_true", help="print the commands instead")
    args = parser.parse_args(argv)
    if args.print or not args.bootstrap:
        print("\n".join(commands(args.prefix, args.cluster)))
        return 0
    asyncio.run(enrol(args.bootstrap, args.prefix, args.cluster))
    print(f"enrolled {', '.join(sorted(set(args.cluster))) or 'no cluster'} on {args.bootstrap}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
