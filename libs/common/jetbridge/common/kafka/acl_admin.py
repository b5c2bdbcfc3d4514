"""Send the planes' ACLs (``jetbridge.common.kafka.acls``) to a broker, or print them.

aiokafka's admin client has no ACL methods, but it ships the CreateAcls and DeleteAcls
requests of Kafka's protocol; the client negotiates their version with the broker.
Creating a binding that exists is a no-op on the broker, so :func:`create_acls` may be
run on every start. The caller must itself be allowed to alter ACLs (a super user).

    python -m jetbridge.common.kafka.acl_admin --prefix '' --cluster dp-east --print
    python -m jetbridge.common.kafka.acl_admin --bootstrap host:9092 --cluster dp-east
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import CreateAclsRequest, DeleteAclsRequest

from jetbridge.common.kafka.acls import Acl, Permission, plane_acls
from jetbridge.common.kafka.security import kafka_security

ANY_HOST = "*"


class AclError(RuntimeError):
    """The broker refused a binding (the message names it and the broker's reason)."""


async def create_acls(
    bootstrap: str, acls: Sequence[Acl], *, security: dict[str, Any] | None = None
) -> None:
    async with _admin(bootstrap, security) as admin:
        for acl in acls:
            request = CreateAclsRequest(*_fields(acl))
            response = await admin._send_request(request)  # aiokafka: no public ACL API
            for code, message in response.creation_responses:
                if code:
                    raise AclError(f"creating {acl}: error {code} {message or ''}".rstrip())


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
                    raise AclError(f"deleting {acl}: error {code} {message or ''}".rstrip())
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
        bootstrap_servers=bootstrap, client_id="jetbridge-acls", request_timeout_ms=10000, **extra
    )
    await client.start()
    try:
        yield client
    finally:
        await client.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefix", default="", help="the services' JETBRIDGE_TOPIC_PREFIX")
    parser.add_argument("--cluster", action="append", default=[], help="a data plane's cluster id")
    parser.add_argument("--bootstrap", help="a broker to apply them to (as a super user)")
    parser.add_argument(
        "--print", action="store_true", help="print kafka-acls.sh arguments instead"
    )
    args = parser.parse_args(argv)
    acls = plane_acls(args.prefix, args.cluster)
    if args.print or not args.bootstrap:
        for acl in acls:
            print(shlex.join(acl.kafka_acls_args()))
        return 0
    asyncio.run(create_acls(args.bootstrap, acls))
    print(f"{len(acls)} ACL bindings present on {args.bootstrap}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
