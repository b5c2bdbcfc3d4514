"""Fencing domain: who may write to a Deployment's databases, and at which epoch.

Pure: no I/O. The adapters (PostgreSQL, MySQL/MariaDB) implement the ``Fencer`` port;
the Pilot turns outcomes and refusals into events with the payload builders below.

A Deployment has two login roles, one per side of a pair (``Side.A`` / ``Side.B``,
never "source"/"destination": those swap on every failover). Exactly one side may
connect at a time. Every fence carries a monotonically increasing *epoch* stored with
the Deployment's databases; ``decide`` is the compare-and-set rule applied under a lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from jetbridge.common.naming import database_slug


class Side(StrEnum):
    """One side of a Deployment's pair of login roles (one per data plane cluster)."""

    A = "A"
    B = "B"

    def other(self) -> Side:
        return Side.B if self is Side.A else Side.A


class OwnershipModel(StrEnum):
    """Who creates the login roles (the spec's two models)."""

    APC_MANAGED = "APC_MANAGED"  # Jetbridge creates and alters the roles (CREATEROLE)
    CUSTOMER_MANAGED = "CUSTOMER_MANAGED"  # the customer creates them, grants us two roles


class FencingPhase(StrEnum):
    """``FENCING``: the epoch is claimed and the old side revoked, the new one not yet
    granted (both sides blocked: safe). ``ACTIVE``: the epoch's side may connect."""

    FENCING = "FENCING"
    ACTIVE = "ACTIVE"


class Decision(StrEnum):
    PROCEED = "PROCEED"  # a newer epoch: fence
    RESUME = "RESUME"  # same epoch and side, interrupted before it finished: finish it
    ALREADY_APPLIED = "ALREADY_APPLIED"  # same epoch and side, done: re-assert, succeed


_MAX_NAME = 63  # PostgreSQL's identifier limit (bytes); MySQL's are at least as large


def _check_name(kind: str, name: str) -> None:
    if not name or "\x00" in name:
        raise ValueError(f"{kind} name must be non-empty and contain no NUL: {name!r}")
    if len(name.encode()) > _MAX_NAME:
        raise ValueError(f"{kind} name longer than {_MAX_NAME} bytes: {name!r}")


@dataclass(frozen=True)
class DeploymentDatabases:
    """One failover-enabled Deployment's logical databases and roles.

    ``databases[0]`` is the Airflow metadata database; on PostgreSQL it also holds the
    fencing epoch. ``owner_role`` owns the databases (Jetbridge is a member),
    ``data_role`` owns the Airflow tables (both login roles are members and act as it,
    so the other side can use what one side created), ``terminator_role`` has the
    privileges of both login roles so Jetbridge may end their sessions.
    """

    deployment_id: str
    databases: tuple[str, ...]
    role_a: str
    role_b: str
    owner_role: str
    data_role: str
    terminator_role: str
    ownership: OwnershipModel = OwnershipModel.APC_MANAGED
    initial_active: Side = Side.A

    def __post_init__(self) -> None:
        if not self.deployment_id:
            raise ValueError("deployment_id must be non-empty")
        if not self.databases:
            raise ValueError("a Deployment needs at least one database")
        if len(set(self.databases)) != len(self.databases):
            raise ValueError(f"duplicate database names: {self.databases!r}")
        for db in self.databases:
            _check_name("database", db)
        roles = self.all_roles
        for role in roles:
            _check_name("role", role)
        if len(set(roles)) != len(roles):
            raise ValueError(f"the five role names must differ: {roles!r}")

    @property
    def all_roles(self) -> tuple[str, ...]:
        return (self.role_a, self.role_b, self.owner_role, self.data_role, self.terminator_role)

    @property
    def epoch_database(self) -> str:
        return self.databases[0]

    def role(self, side: Side) -> str:
        return self.role_a if side is Side.A else self.role_b

    @classmethod
    def named(
        cls,
        deployment_id: str,
        prefix: str = "airflow_",
        ownership: OwnershipModel = OwnershipModel.APC_MANAGED,
        extra_databases: tuple[str, ...] = (),
    ) -> DeploymentDatabases:
        """The default naming scheme: ``<prefix><slug>`` plus role suffixes."""
        # One id, one set of names (jetbridge.common.naming): folded ids carry a hash.
        slug = database_slug(deployment_id)
        base = f"{prefix}{slug}"
        return cls(
            deployment_id=deployment_id,
            databases=(base, *(f"{base}_{extra}" for extra in extra_databases)),
            role_a=f"{base}_a",
            role_b=f"{base}_b",
            owner_role=f"{base}_owner",
            data_role=f"{base}_data",
            terminator_role=f"{base}_terminator",
            ownership=ownership,
        )


@dataclass(frozen=True)
class FencingState:
    """What is stored with the databases: the last epoch claimed and its side."""

    deployment_id: str
    epoch: int
    target_side: Side
    phase: FencingPhase

    @property
    def active_side(self) -> Side | None:
        """The side that may connect now; ``None`` mid-fence (both blocked)."""
        return self.target_side if self.phase is FencingPhase.ACTIVE else None


@dataclass(frozen=True)
class ProvisionResult:
    deployment_id: str
    databases: tuple[str, ...]
    roles_created: tuple[str, ...]  # empty for CUSTOMER_MANAGED or a re-run
    active_side: Side
    active_role: str
    blocked_role: str
    epoch: int
    # The Deployment's databases this call created: empty on a re-run, whoever owns the
    # roles (a customer-managed first provisioning creates databases, never roles).
    databases_created: tuple[str, ...] = ()


@dataclass(frozen=True)
class FencingOutcome:
    """A completed fence. Times are from the start of ``fence`` (monotonic clock)."""

    deployment_id: str
    epoch: int
    active_side: Side
    active_role: str
    fenced_side: Side
    fenced_role: str
    sessions_terminated: int
    revoked_ms: float  # old side's CONNECT/LOGIN revoked and committed
    sessions_gone_ms: float  # no session of the old side remains
    took_ms: float  # new side granted and committed
    already_applied: bool = False


# ----------------------------------------------------------------------- errors


class FencingError(Exception):
    """Base of every error a Fencer raises on purpose."""


@dataclass
class StaleFencingEpoch(FencingError):
    """A fencer came with an epoch older than the stored one (or equal, other side)."""

    deployment_id: str
    current_epoch: int
    current_side: Side
    attempted_epoch: int
    attempted_side: Side

    def __str__(self) -> str:
        return (
            f"stale fencing epoch for {self.deployment_id!r}: attempted epoch "
            f"{self.attempted_epoch} (activate {self.attempted_side}), stored epoch "
            f"{self.current_epoch} (activate {self.current_side})"
        )


@dataclass
class MissingPrivilege(FencingError):
    """Jetbridge's database user lacks ``privilege`` on ``object``."""

    privilege: str
    object: str
    detail: str = ""

    def __str__(self) -> str:
        text = f"missing privilege {self.privilege} on {self.object}"
        return f"{text}: {self.detail}" if self.detail else text


@dataclass
class NotProvisioned(FencingError):
    deployment_id: str
    what: str

    def __str__(self) -> str:
        return f"Deployment {self.deployment_id!r} is not provisioned: {self.what}"


@dataclass
class FencingIncomplete(FencingError):
    """The old side could not be shut out; the new side was NOT granted."""

    deployment_id: str
    reason: str

    def __str__(self) -> str:
        return f"fencing of {self.deployment_id!r} incomplete: {self.reason}"


@dataclass
class FencingBusy(FencingError):
    deployment_id: str
    waited_s: float = field(default=0.0)

    def __str__(self) -> str:
        return f"another fencer holds {self.deployment_id!r} (waited {self.waited_s:.1f}s)"


# ------------------------------------------------------------------ pure rules


def decide(current: FencingState, attempted_epoch: int, activate: Side) -> Decision:
    """The compare-and-set rule, evaluated while the stored epoch is locked.

    Newer epoch: proceed. Same epoch and side: resume or re-assert (idempotent).
    Older epoch, or the same epoch for the other side: refused.
    """
    if attempted_epoch < 0:
        raise ValueError(f"fencing epochs are >= 0 (0 is provisioning's), got {attempted_epoch}")
    if attempted_epoch > current.epoch:
        return Decision.PROCEED
    if attempted_epoch == current.epoch and activate is current.target_side:
        if current.phase is FencingPhase.ACTIVE:
            return Decision.ALREADY_APPLIED
        return Decision.RESUME
    raise StaleFencingEpoch(
        deployment_id=current.deployment_id,
        current_epoch=current.epoch,
        current_side=current.target_side,
        attempted_epoch=attempted_epoch,
        attempted_side=activate,
    )


def fencing_completed_payload(
    outcome: FencingOutcome, *, flight_id: str, mission_id: str, attempt: int, fenced_at_ms: int
) -> dict[str, object]:
    """Payload of ``FencingCompleted`` (schemas/avro/events/FencingCompleted.v1.avsc)."""
    return {
        "flight_id": flight_id,
        "mission_id": mission_id,
        "deployment_id": outcome.deployment_id,
        "epoch": outcome.epoch,
        "active_role": outcome.active_role,
        "fenced_role": outcome.fenced_role,
        "sessions_terminated": outcome.sessions_terminated,
        "attempt": attempt,
        "fenced_at": fenced_at_ms,
    }


def fencing_refused_payload(
    refusal: StaleFencingEpoch,
    deployment: DeploymentDatabases,
    *,
    flight_id: str,
    mission_id: str,
) -> dict[str, object]:
    """Payload of ``FencingRefused``: a stale fencer, refused before touching anything."""
    return {
        "flight_id": flight_id,
        "mission_id": mission_id,
        "deployment_id": refusal.deployment_id,
        "attempted_epoch": refusal.attempted_epoch,
        "current_epoch": refusal.current_epoch,
        "requested_active_role": deployment.role(refusal.attempted_side),
        "current_active_role": deployment.role(refusal.current_side),
        "reason": "STALE_EPOCH",
    }


# ------------------------------------------------------------------------ port


class Fencer(Protocol):
    """Provisions and fences one Deployment's databases on one database server."""

    async def provision(
        self, deployment: DeploymentDatabases, passwords: Mapping[Side, str] | None = None
    ) -> ProvisionResult:
        """Create (or adopt) databases and roles; only ``initial_active`` may connect.

        Idempotent. ``passwords`` are required for APC_MANAGED roles and ignored for
        CUSTOMER_MANAGED ones.
        """
        ...

    async def fence(
        self, deployment: DeploymentDatabases, activate: Side, epoch: int
    ) -> FencingOutcome:
        """Shut the other side out (sessions ended), then let ``activate`` connect.

        Raises ``StaleFencingEpoch`` (nothing changed) for an older epoch.
        """
        ...

    async def state(self, deployment: DeploymentDatabases) -> FencingState: ...

    async def read_only(self) -> str | None:
        """Why the server cannot be written now (a replica not yet promoted, say), in
        words for the operator; None when it can. The spec's failover order promotes
        the replica and moves the endpoint *before* the failover starts."""
        ...

    async def drop(self, deployment: DeploymentDatabases) -> None:
        """Remove the databases (and the roles Jetbridge created)."""
        ...

    async def close(self) -> None:
        """Let go of pooled connections (the fencer may not be used after)."""
        ...
