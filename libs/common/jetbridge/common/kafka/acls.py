"""Who may do what on Kafka: the ACLs that keep each plane to its own records.

Mutual TLS (``jetbridge.common.kafka.security``) proves who a client is; without ACLs
any certificate the CA signed could read and write every topic, so one data plane's
credentials could forge the Navigator's decisions on ``jetbridge.failover.events`` or
read the other clusters' outcomes. With a broker authorizer and these bindings:

- the control plane (principal ``User:control-plane``) has every operation on the
  run's topics (``<prefix>jetbridge.`` prefixed) and on consumer groups;
- a data plane (principal ``User:<cluster-id>``) may only WRITE (and DESCRIBE, which
  producing needs for metadata) its own reports topic,
  ``<prefix>jetbridge.flight.events.<cluster-id>``: the Pilot's relay publishes its
  flights' outcomes there and reads nothing from Kafka. So the topic names the sender,
  and the Navigator refuses a report about another cluster's flight.

Principals are the certificate's CN (``jetbridge.common.tls``): the broker maps the
subject with ``ssl.principal.mapping.rules`` = :data:`PRINCIPAL_MAPPING_RULES`. The
cluster ids ``control-plane`` and ``kafka`` are reserved for that reason.

Pure rules; ``jetbridge.common.kafka.enrol`` sends them to a broker, and
``python -m jetbridge.common.kafka.enrol --print`` prints them for ``kafka-acls.sh``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from jetbridge.common.tls import CONTROL_PLANE_CN, cluster_identity
from jetbridge.common.topics import reports_topic

# CN=<name>[,anything] -> <name>; anything else keeps the whole DN (never a plane's name).
PRINCIPAL_MAPPING_RULES = "RULE:^CN=([^,]+)(,.*)?$/$1/,DEFAULT"
TOPIC_FAMILY = "jetbridge."  # every topic of topics.toml starts with it


# Codes of Kafka's wire protocol (org.apache.kafka.common.{resource,acl}).
class ResourceType(IntEnum):
    TOPIC = 2
    GROUP = 3


class PatternType(IntEnum):
    LITERAL = 3
    PREFIXED = 4


class Operation(IntEnum):
    ALL = 2
    WRITE = 4
    DESCRIBE = 8


class Permission(IntEnum):
    ALLOW = 3


@dataclass(frozen=True, order=True)
class Acl:
    """One ALLOW binding: ``principal`` may ``operation`` on a resource, from any host."""

    principal: str
    resource_type: ResourceType
    resource_name: str
    pattern: PatternType
    operation: Operation

    def kafka_acls_args(self) -> list[str]:
        """The same binding as ``kafka-acls.sh --add`` arguments."""
        resource = "--topic" if self.resource_type is ResourceType.TOPIC else "--group"
        return [
            "--add",
            "--allow-principal",
            self.principal,
            "--operation",
            _operation_name(self.operation),
            resource,
            self.resource_name,
            "--resource-pattern-type",
            self.pattern.name.lower(),
        ]


def _operation_name(operation: Operation) -> str:
    return "".join(part.capitalize() for part in operation.name.split("_"))


def control_plane_principal() -> str:
    return f"User:{CONTROL_PLANE_CN}"


def data_plane_principal(cluster_id: str) -> str:
    cluster_identity(cluster_id)  # refuses ids that are not DNS labels, and reserved ones
    return f"User:{cluster_id}"


def plane_acls(topic_prefix: str, clusters: Iterable[str]) -> list[Acl]:
    """Every binding the planes need on topics named ``<topic_prefix>jetbridge.*``."""
    control = control_plane_principal()
    acls = [
        Acl(
            control,
            ResourceType.TOPIC,
            topic_prefix + TOPIC_FAMILY,
            PatternType.PREFIXED,
            Operation.ALL,
        ),
        Acl(control, ResourceType.GROUP, "*", PatternType.LITERAL, Operation.ALL),
    ]
    for cluster in sorted(set(clusters)):
        principal = data_plane_principal(cluster)
        for operation in (Operation.WRITE, Operation.DESCRIBE):
            acls.append(
                Acl(
                    principal,
                    ResourceType.TOPIC,
                    topic_prefix + reports_topic(cluster),
                    PatternType.LITERAL,
                    operation,
                )
            )
    return acls
