"""Roles and the one table that says which role each action needs.

Roles are ordered (viewer < operator < admin): a higher role may do everything a
lower one may. Authentication (bearer token, OIDC) only ever yields a ``Principal``;
authorisation is this table, so the API and its tests read the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANK = {Role.VIEWER: 1, Role.OPERATOR: 2, Role.ADMIN: 3}


class Action(StrEnum):
    READ = "read"  # clusters, deployments, failovers, events, the live stream
    PLAN = "plan"  # a dry run: creates nothing, so any authenticated reader may
    START_FAILOVER = "start_failover"
    CANCEL_FAILOVER = "cancel_failover"
    ENABLE_FAILOVER = "enable_failover"  # switches a cluster under failover management
    REGISTER_CLUSTER = "register_cluster"  # where the control plane reaches a data plane,
    # and taking one off it
    DECLARE_CLUSTER_LOST = "declare_cluster_lost"  # attest a silent data plane is gone


REQUIRED: dict[Action, Role] = {
    Action.READ: Role.VIEWER,
    Action.PLAN: Role.VIEWER,
    Action.START_FAILOVER: Role.OPERATOR,
    Action.CANCEL_FAILOVER: Role.OPERATOR,
    Action.ENABLE_FAILOVER: Role.ADMIN,
    Action.REGISTER_CLUSTER: Role.ADMIN,
    Action.DECLARE_CLUSTER_LOST: Role.ADMIN,
}


@dataclass(frozen=True)
class Principal:
    """Who is asking: ``subject`` becomes the ``actor`` of every command they send."""

    subject: str
    role: Role

    def may(self, action: Action) -> bool:
        return self.role.at_least(REQUIRED[action])


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise ValueError(f"unknown role {text!r} (known: {known})") from None
