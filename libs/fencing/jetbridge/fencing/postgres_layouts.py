"""Where a Deployment's fencing epoch lives on PostgreSQL, and how a fence reaches it.

Two layouts, one fence (``PostgresFencer.fence`` runs the same steps on either):

* ``CentralEpoch``: the epoch row in Jetbridge's state database on the same server
  (``jetbridge_fencing.epochs``, one row per Deployment), the two CONNECT helpers
  (owned by the owner role) in a schema of that database named after the owner role.
  A fence runs on a pooled connection that is already open and warm. Every Deployment
  provisioned from 2026-12-03 on.
* ``LocalEpoch``: the epoch row in the Deployment's own metadata database
  (``jetbridge_fencing.state``, one row), helpers beside it if provisioning made them.
  Deployments provisioned before keep this layout (re-provisioning keeps it too): a
  fence then opens a new backend in that database, which costs about three times the
  fence itself (docs/database-fencing.md, "Where the epoch lives").

Nothing moves a Deployment from one layout to the other: two epoch rows could disagree,
and the compare-and-set on ONE row is what makes a stale fencer lose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import asyncpg

from jetbridge.common.sql import PgConnection
from jetbridge.fencing.domain import (
    DeploymentDatabases,
    FencingPhase,
    FencingState,
    NotProvisioned,
    Side,
)
from jetbridge.fencing.quoting import pg_ident, pg_literal, pg_text_array, render, sql_int
from jetbridge.fencing.sqlfiles import queries

Q = queries("postgresql")

LOCAL_SCHEMA = "jetbridge_fencing"
# Where ``set_connect`` lives in either database (the helpers' SQL names it so).
CONNECT_SCHEMA = "jetbridge_fencing"
# Schemas of the state database that no owner role's helper schema may take.
RESERVED_SCHEMAS = frozenset({LOCAL_SCHEMA, "public", "information_schema"})


def state_of(row: asyncpg.Record | None, deployment_id: str = "?") -> FencingState:
    if row is None:
        raise NotProvisioned(deployment_id, "no fencing epoch row")
    return FencingState(
        deployment_id=row["deployment_id"],
        epoch=row["epoch"],
        target_side=Side(row["target_side"]),
        phase=FencingPhase(row["phase"]),
    )


def helper_schema(dep: DeploymentDatabases) -> str:
    """The state database's schema holding this Deployment's helpers: named after its
    owner role (unique per Deployment), owned by Jetbridge's role, the helpers in it by
    the owner role."""
    if dep.owner_role in RESERVED_SCHEMAS or dep.owner_role.startswith("pg_"):
        raise NotProvisioned(
            dep.deployment_id,
            f"the owner role {dep.owner_role!r} has a name Jetbridge's state database "
            "reserves for itself; give the Deployment another owner role",
        )
    return dep.owner_role


class EpochLayout(Protocol):
    """The epoch row's lock, and the fence's writes as SQL text: each transaction of a
    fence sends its writes and COMMIT as one multi-statement query (one round trip),
    which takes no bind parameters, so values are quoted literals (``quoting``)."""

    @property
    def helpers(self) -> bool: ...

    async def lock(self, conn: PgConnection) -> FencingState: ...

    def claim_sql(self, epoch: int, side: Side) -> str: ...

    def mark_active_sql(self, epoch: int, side: Side) -> str: ...

    def helper_sql(self, grant: bool, databases: Sequence[str], role: str) -> str: ...


def _helper_sql(schema: str, grant: bool, databases: Sequence[str], role: str) -> str:
    return render(
        Q["call_grant_helper" if grant else "call_revoke_helper"],
        schema=pg_ident(schema),
        databases=pg_text_array(databases),
        role=pg_literal(role),
    )


@dataclass(frozen=True)
class CentralEpoch:
    deployment_id: str
    schema: str
    helpers: bool = True  # provisioned in the same transaction as the row

    async def lock(self, conn: PgConnection) -> FencingState:
        return state_of(await conn.fetchrow(Q["epochs_lock"], self.deployment_id))

    def claim_sql(self, epoch: int, side: Side) -> str:
        return self._epoch_sql("epochs_claim", epoch, side)

    def mark_active_sql(self, epoch: int, side: Side) -> str:
        return self._epoch_sql("epochs_mark_active", epoch, side)

    def _epoch_sql(self, name: str, epoch: int, side: Side) -> str:
        return render(
            Q[name],
            deployment=pg_literal(self.deployment_id),
            epoch=sql_int(epoch),
            side=pg_literal(side.value),
        )

    def helper_sql(self, grant: bool, databases: Sequence[str], role: str) -> str:
        return _helper_sql(self.schema, grant, databases, role)


@dataclass(frozen=True)
class LocalEpoch:
    helpers: bool  # False: provisioned before the helpers existed (the slow path)

    async def lock(self, conn: PgConnection) -> FencingState:
        return state_of(await conn.fetchrow(Q["lock_state"]))

    def claim_sql(self, epoch: int, side: Side) -> str:
        return render(Q["claim_epoch"], epoch=sql_int(epoch), side=pg_literal(side.value))

    def mark_active_sql(self, epoch: int, side: Side) -> str:
        return render(Q["mark_active"], epoch=sql_int(epoch), side=pg_literal(side.value))

    def helper_sql(self, grant: bool, databases: Sequence[str], role: str) -> str:
        return _helper_sql(LOCAL_SCHEMA, grant, databases, role)


async def create_helpers(conn: PgConnection, dep: DeploymentDatabases, schema: str) -> None:
    """The two SECURITY DEFINER helpers in ``schema``, as the owner role, granted to
    Jetbridge's role only. In the caller's transaction.

    They call ``jetbridge_fencing.set_connect``: the state database's (made with the
    database, ``create_connect_function``) or, in the local layout, one the owner role
    makes here beside them."""
    owner, where = pg_ident(dep.owner_role), pg_ident(schema)
    await conn.execute(render(Q["set_local_role"], role=owner))
    if schema == LOCAL_SCHEMA:
        await conn.execute(render(Q["create_connect_function"], schema=pg_ident(CONNECT_SCHEMA)))
    for name in ("create_revoke_helper", "create_grant_helper", "drop_member_check"):
        await conn.execute(render(Q[name], schema=where))
    await conn.execute(render(Q["grant_helpers"], schema=where))
