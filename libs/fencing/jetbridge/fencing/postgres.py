"""PostgreSQL Fencer (asyncpg).

Order of a fence, so that at no instant can both sides write:
  1. lock the epoch row; compare-and-set the epoch; REVOKE CONNECT from PUBLIC and
     the old role (APC-managed: also NOLOGIN); COMMIT. New old-side logins now fail.
  2. end every old-side session and wait until each is gone, including backends that
     passed the CONNECT check just before the commit (see ``_sweep``).
  3. lock the epoch row again; if it still holds OUR epoch, GRANT CONNECT (and LOGIN)
     to the new role; COMMIT. A newer fencer in between wins and we grant nothing.
Between 1 and 3 neither side can connect: a crash there is safe and resumable.

Where the epoch row lives (``postgres_layouts``): in Jetbridge's state database on the
same server, reached through a pool of warm connections (Deployments provisioned from
2026-12-03 on), or in the Deployment's own database (those provisioned before).

Cost with many Deployments: every check of a privilege Jetbridge's role holds through
a role membership makes PostgreSQL compute all the roles it is a member of (two per
Deployment), anew after any role or ACL change on the server, which every fence makes;
on PostgreSQL 15 that is O(memberships^2). So a fence avoids such checks: provisioning
gives Jetbridge's role direct grants on what a fence touches and two SECURITY DEFINER
functions (``sql/postgresql.sql``, "fast path") that grant and revoke CONNECT as the
owner role; preflight checks first look for a direct grant. Deployments provisioned
before that (no helper functions) are fenced the old way, with the same statements.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import asyncpg

from jetbridge.common.sql import PgConnection
from jetbridge.common.sql.pools import keep_session
from jetbridge.fencing.domain import (
    Decision,
    DeploymentDatabases,
    FencingIncomplete,
    FencingOutcome,
    FencingState,
    MissingPrivilege,
    NotProvisioned,
    OwnershipModel,
    ProvisionResult,
    Side,
    decide,
)
from jetbridge.fencing.postgres_layouts import (
    CONNECT_SCHEMA,
    LOCAL_SCHEMA,
    CentralEpoch,
    EpochLayout,
    LocalEpoch,
    create_helpers,
    helper_schema,
    state_of,
)
from jetbridge.fencing.quoting import Quoted, join, pg_ident, pg_literal, render
from jetbridge.fencing.scram import scram_sha256_verifier
from jetbridge.fencing.sqlfiles import queries

Q = queries("postgresql")
# Every fencer session resolves names in the catalogue only. Some of them run in a
# Deployment's own database (provisioning, the legacy local epoch), where the tenant
# may create functions in ``public``: with the default search_path an overload there
# that fits an argument better than the built-in (``has_database_privilege(text,
# name, text)``, say) would be called instead, as this role (CVE-2018-1058's pattern).
# Jetbridge's own objects are always schema-qualified.
_PINNED = {"search_path": "pg_catalog, pg_temp"}
T = TypeVar("T")


def _ms(since: float) -> float:
    return (time.monotonic() - since) * 1000.0


@asynccontextmanager
async def _privilege(privilege: str, obj: str) -> AsyncIterator[None]:
    """Turn PostgreSQL's insufficient_privilege (42501) into MissingPrivilege."""
    try:
        yield
    except asyncpg.InsufficientPrivilegeError as exc:
        raise MissingPrivilege(privilege, obj, str(exc)) from exc


@dataclass(frozen=True)
class _Found:
    """What the preflight found: the oid of every role, and the databases that exist."""

    role_oids: dict[str, int]
    databases: dict[str, int]


@dataclass(frozen=True)
class _Write:
    """One statement of a fence's transaction, and what it needs if it is refused."""

    sql: str
    privilege: str
    object: str


async def _rollback(conn: PgConnection) -> None:
    """End a failed transaction; a lost connection has nothing left to roll back."""
    if conn.is_in_transaction():
        with contextlib.suppress(asyncpg.PostgresError, OSError, asyncpg.InterfaceError):
            await conn.execute("ROLLBACK")


async def _locked_writes(
    conn: PgConnection,
    layout: EpochLayout,
    check: Callable[[FencingState], T],
    writes: list[_Write],
) -> T:
    """One transaction: lock the epoch row, ``check`` it (it raises to write nothing),
    then the writes and COMMIT as ONE multi-statement query. A fence's two transactions
    were six round trips each; they are three.

    A refused write (42501) rolls everything back and the same transaction runs again
    one statement at a time, so the MissingPrivilege names the write that was refused.
    """
    for batched in (True, False):
        try:
            await conn.execute("BEGIN")
            result = check(await layout.lock(conn))
            if batched:
                script = [w.sql.strip().removesuffix(";") for w in writes]
                try:
                    await conn.execute(";\n".join([*script, "COMMIT"]))
                except asyncpg.InsufficientPrivilegeError:
                    await _rollback(conn)
                    continue  # which write was refused: again, one at a time
            else:
                for write in writes:
                    async with _privilege(write.privilege, write.object):
                        await conn.execute(write.sql)
                await conn.execute("COMMIT")
            return result
        except BaseException:
            await _rollback(conn)
            raise
    raise AssertionError("unreachable: the unbatched run returns or raises")


class PostgresFencer:
    """Fences with a NON-superuser admin role (superusers would bypass CONNECT).

    ``state_database`` is Jetbridge's own database on the server (created by the first
    provisioning, owned by the admin role); every fencer of one server must name the
    same one. Holds a pool of up to ``pool_size`` connections to it: ``close()`` it (or
    use ``async with``).
    """

    def __init__(
        self,
        admin_dsn: str,
        *,
        state_database: str = "jetbridge_fencing",
        sweep_timeout_s: float = 10.0,
        pool_size: int = 8,
    ) -> None:
        self._dsn = admin_dsn
        self._state_database = state_database
        self._sweep_timeout_s = sweep_timeout_s
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()
        self._epochs_ready = False

    async def __aenter__(self) -> PostgresFencer:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def _connect(self, database: str | None = None) -> asyncpg.Connection:
        kwargs: dict[str, Any] = {"database": database} if database else {}
        return await asyncpg.connect(self._dsn, server_settings=_PINNED, **kwargs)

    async def _state_pool(self) -> asyncpg.Pool:
        """The pool on the state database (no connection is opened before one is used)."""
        async with self._pool_lock:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    database=self._state_database,
                    min_size=0,
                    max_size=self._pool_size,
                    max_inactive_connection_lifetime=60.0,
                    # A fence leaves no session state: its role switches are the owner
                    # role's SECURITY DEFINER helpers and SET LOCAL, gone at COMMIT.
                    reset=keep_session,
                    server_settings=_PINNED,
                )
        return self._pool

    @asynccontextmanager
    async def _central(
        self, dep: DeploymentDatabases
    ) -> AsyncIterator[tuple[PgConnection, FencingState] | None]:
        """A pooled connection to the state database and ``dep``'s epoch as read there,
        if the row is there (None: the epoch is local, or nowhere)."""
        pool = await self._state_pool()
        try:
            conn = await pool.acquire()
        except asyncpg.InsufficientPrivilegeError as exc:
            raise MissingPrivilege(
                "CONNECT",
                f"database {pg_ident(self._state_database)}",
                "the fencing state database belongs to another role: every Pilot fencing "
                "on one server must use the same fencing role and state database",
            ) from exc
        except asyncpg.InvalidCatalogNameError:
            # Only Deployments with a local epoch on this server so far: make the
            # (empty) state database once, rather than fail to connect every fence.
            admin = await self._connect()
            try:
                await self._ensure_state_database(admin)
            finally:
                await admin.close()
            conn = await pool.acquire()
        try:
            try:
                row = await conn.fetchrow(Q["epochs_read"], dep.deployment_id)
            except asyncpg.UndefinedTableError:  # its creator died before the setup
                row = None
            yield (conn, state_of(row, dep.deployment_id)) if row is not None else None
        finally:
            await pool.release(conn)

    @staticmethod
    async def _ddl(conn: PgConnection, name: str, **parts: Quoted) -> None:
        await conn.execute(render(Q[name], **parts))

    # --------------------------------------------------------------- preflight

    async def _whoami(self, conn: PgConnection) -> asyncpg.Record:
        me = await conn.fetchrow(Q["whoami"])
        assert me is not None
        if not me["rolcreatedb"] and not me["rolsuper"]:
            raise MissingPrivilege("CREATEDB", f"role {me['name']}")
        return me

    async def _preflight(self, conn: PgConnection, dep: DeploymentDatabases) -> _Found:
        """What a fence or a provisioning needs to know first, in one query: every role
        must exist (NotProvisioned), Jetbridge acts through the owner role and the
        terminator role only (MissingPrivilege), the terminator role must have the login
        roles' privileges, and no login role may be a superuser (FencingIncomplete).

        Membership: a direct grant with INHERIT is enough and cheap to see; any other
        case gets the exact (with many roles, costly) check, which names what is missing.
        """
        query = Q["preflight"] if conn.get_server_version().major >= 16 else Q["preflight_pg15"]
        logins = [dep.role_a, dep.role_b]
        rows = await conn.fetch(
            query, list(dep.all_roles), list(dep.databases), dep.terminator_role, logins
        )
        roles = {row["name"]: row for row in rows if row["kind"] == "role"}
        missing = [role for role in dep.all_roles if role not in roles]
        if missing:
            raise NotProvisioned(dep.deployment_id, f"roles {missing} do not exist")
        for role in (dep.owner_role, dep.terminator_role):
            if roles[role]["direct"]:
                continue
            row = await conn.fetchrow(Q["my_membership"], role)
            assert row is not None
            if not (row["member"] and row["inherits"]):
                raise MissingPrivilege(
                    f"MEMBER OF {pg_ident(role)} (with INHERIT)", f"Deployment {dep.deployment_id}"
                )
        for login in logins:
            if not roles[login]["terminator_has"]:
                raise MissingPrivilege(
                    f"MEMBER OF {pg_ident(login)} granted to {pg_ident(dep.terminator_role)}",
                    f"role {dep.terminator_role}",
                    "the terminator role needs the login roles' privileges to end sessions",
                )
            if roles[login]["rolsuper"]:
                raise FencingIncomplete(dep.deployment_id, f"login role {login!r} is a superuser")
        databases = {row["name"]: row["oid"] for row in rows if row["kind"] == "database"}
        return _Found(
            role_oids={name: row["oid"] for name, row in roles.items()}, databases=databases
        )

    @staticmethod
    def _database_oids(dep: DeploymentDatabases, found: _Found) -> list[int]:
        missing = [db for db in dep.databases if db not in found.databases]
        if missing:
            raise NotProvisioned(dep.deployment_id, f"databases {missing}")
        return [found.databases[db] for db in dep.databases]

    # --------------------------------------------------------------- provision

    async def provision(
        self, deployment: DeploymentDatabases, passwords: Mapping[Side, str] | None = None
    ) -> ProvisionResult:
        dep = deployment
        active, blocked = dep.initial_active, dep.initial_active.other()
        created: list[str] = []
        made: list[str] = []  # databases
        conn = await self._connect()
        try:
            me = await self._whoami(conn)
            if dep.ownership is OwnershipModel.APC_MANAGED:
                created = await self._create_roles(conn, dep, me, passwords)
            existing = (await self._preflight(conn, dep)).databases
            for db in dep.databases:
                if db not in existing:
                    async with _privilege(f"CREATEDB and SET ROLE {pg_ident(dep.owner_role)}", db):
                        await self._ddl(
                            conn,
                            "create_database",
                            database=pg_ident(db),
                            owner=pg_ident(dep.owner_role),
                        )
                    made.append(db)
                async with _privilege(f"ownership of database {pg_ident(db)}", db):
                    await self._ddl(conn, "lock_down_database", database=pg_ident(db))
                    await self._ddl(
                        conn,
                        "revoke_connect",
                        database=pg_ident(db),
                        role=pg_ident(dep.role(blocked)),
                    )
            local = await self._prepare_databases(dep)
            if not local:
                await self._ensure_state_database(conn)
        finally:
            await conn.close()
        if not local:
            await self._provision_central(dep)
        state = await self.state(dep)
        if state.epoch == 0:
            # Fresh: block the inactive side at once, end any session it already has
            # (customer-created roles may have been used), then open the active side.
            await self.fence(dep, active, 0)
        else:
            active = state.target_side
        return ProvisionResult(
            deployment_id=dep.deployment_id,
            databases=dep.databases,
            roles_created=tuple(created),
            active_side=active,
            active_role=dep.role(active),
            blocked_role=dep.role(active.other()),
            epoch=state.epoch,
            databases_created=tuple(made),
        )

    async def _create_roles(
        self,
        conn: PgConnection,
        dep: DeploymentDatabases,
        me: asyncpg.Record,
        passwords: Mapping[Side, str] | None,
    ) -> list[str]:
        if not me["rolcreaterole"] and not me["rolsuper"]:
            raise MissingPrivilege("CREATEROLE", f"role {me['name']}")
        existing = {row["rolname"] for row in await conn.fetch(Q["roles"], list(dep.all_roles))}
        created: list[str] = []
        async with _privilege("CREATEROLE", f"Deployment {dep.deployment_id}"), conn.transaction():
            for role in (dep.owner_role, dep.data_role, dep.terminator_role):
                if role not in existing:
                    await self._ddl(conn, "create_group_role", role=pg_ident(role))
                    created.append(role)
            for side in Side:
                role = dep.role(side)
                if role in existing:
                    continue
                if not passwords or side not in passwords:
                    raise ValueError(f"APC_MANAGED provisioning needs a password for side {side}")
                await self._ddl(
                    conn,
                    "create_login_role",
                    role=pg_ident(role),
                    password=pg_literal(scram_sha256_verifier(passwords[side])),
                    data_role=pg_ident(dep.data_role),
                )
                await self._ddl(
                    conn,
                    "act_as_data_role",
                    role=pg_ident(role),
                    data_role_literal=pg_literal(dep.data_role),
                )
                created.append(role)
            await self._ddl(
                conn,
                "grant_role",
                granted=join([pg_ident(dep.role_a), pg_ident(dep.role_b)]),
                grantee=pg_ident(dep.terminator_role),
            )
            await self._ddl(
                conn,
                "grant_role",
                granted=join([pg_ident(dep.owner_role), pg_ident(dep.terminator_role)]),
                grantee=pg_ident(me["name"]),
            )
        return created

    async def _prepare_databases(self, dep: DeploymentDatabases) -> bool:
        """Schema grants and CONNECT for Jetbridge's role in every database; True if the
        metadata database holds a local epoch row (provisioned before 2026-12-03), whose
        helpers are then (re)made beside it."""
        local = False
        for db in dep.databases:
            conn = await self._connect(db)
            try:
                async with (
                    _privilege(f"SET ROLE {pg_ident(dep.owner_role)}", db),
                    conn.transaction(),
                ):
                    await self._ddl(conn, "set_local_role", role=pg_ident(dep.owner_role))
                    await self._ddl(conn, "grant_schema", data_role=pg_ident(dep.data_role))
                    # As the owner, so the grantee SESSION_USER is Jetbridge's role: the
                    # drain's task_instance reads and the local layout's fence connect.
                    await self._ddl(conn, "grant_connect_fencer", database=pg_ident(db))
                    if db == dep.epoch_database and await conn.fetchval(Q["local_state_exists"]):
                        local = True
                        await conn.execute(
                            Q["init_state"], dep.deployment_id, dep.initial_active.value
                        )
                        await create_helpers(conn, dep, LOCAL_SCHEMA)
                        await conn.execute(Q["grant_state"])
            finally:
                await conn.close()
        return local

    async def _ensure_state_database(self, conn: PgConnection) -> None:
        """Jetbridge's state database, its epochs table and ``set_connect``, once per
        fencer (CREATE OR REPLACE: a newer release's function replaces an older one's)."""
        if self._epochs_ready:
            return
        if not await conn.fetchval(Q["state_database_exists"], self._state_database):
            database = pg_ident(self._state_database)
            try:
                await self._ddl(conn, "create_state_database", database=database)
            except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
                pass  # another fencer made it first (a tie: the catalog's unique index)
            else:
                await self._ddl(conn, "lock_down_database", database=database)
        async with (await self._state_pool()).acquire() as state, state.transaction():
            await state.execute(Q["state_setup_lock"])
            await state.execute(Q["epochs_schema"])
            await state.execute(Q["epochs_table"])
            await self._ddl(state, "create_connect_function", schema=pg_ident(CONNECT_SCHEMA))
            await state.execute(Q["share_connect_function"])
        self._epochs_ready = True

    async def _provision_central(self, dep: DeploymentDatabases) -> None:
        """The epoch row and the helpers, in one transaction: a row has its helpers."""
        schema = helper_schema(dep)
        async with (
            (await self._state_pool()).acquire() as conn,
            _privilege(f"SET ROLE {pg_ident(dep.owner_role)}", self._state_database),
            conn.transaction(),
        ):
            await self._ddl(
                conn, "helper_schema", schema=pg_ident(schema), owner=pg_ident(dep.owner_role)
            )
            await conn.execute(Q["epochs_init"], dep.deployment_id, dep.initial_active.value)
            await create_helpers(conn, dep, schema)

    # ------------------------------------------------------------------- state

    async def read_only(self) -> str | None:
        conn = await self._connect()
        try:
            row = await conn.fetchrow(Q["read_only"])
        finally:
            await conn.close()
        assert row is not None  # a SELECT without FROM returns one row
        if row["in_recovery"]:
            return "the database server is a standby (pg_is_in_recovery): not yet promoted"
        if row["read_only"]:
            return "transactions on the database server are read-only (transaction_read_only)"
        return None

    async def state(self, deployment: DeploymentDatabases) -> FencingState:
        async with self._central(deployment) as central:
            if central is not None:
                return central[1]
        try:
            conn = await self._connect(deployment.epoch_database)
        except asyncpg.InvalidCatalogNameError as exc:
            raise NotProvisioned(deployment.deployment_id, str(exc)) from exc
        try:
            async with _privilege(
                f"MEMBER OF {pg_ident(deployment.owner_role)}", "jetbridge_fencing.state"
            ):
                row = await conn.fetchrow(Q["read_state"])
        except asyncpg.UndefinedTableError as exc:
            raise NotProvisioned(deployment.deployment_id, "no fencing epoch row") from exc
        finally:
            await conn.close()
        if row is None:
            raise NotProvisioned(deployment.deployment_id, "empty jetbridge_fencing.state")
        return state_of(row, deployment.deployment_id)

    # ------------------------------------------------------------------- fence

    async def fence(
        self, deployment: DeploymentDatabases, activate: Side, epoch: int
    ) -> FencingOutcome:
        started = time.monotonic()
        async with self._central(deployment) as central:
            if central is not None:
                layout = CentralEpoch(deployment.deployment_id, helper_schema(deployment))
                return await self._fence(
                    central[0], layout, deployment, activate, epoch, started=started
                )
        conn = await self._connect(deployment.epoch_database)
        try:
            local = LocalEpoch(helpers=await conn.fetchval(Q["fence_helpers"]) == 2)
            return await self._fence(conn, local, deployment, activate, epoch, started=started)
        finally:
            await conn.close()

    async def _fence(
        self,
        conn: PgConnection,
        layout: EpochLayout,
        dep: DeploymentDatabases,
        activate: Side,
        epoch: int,
        *,
        started: float,
    ) -> FencingOutcome:
        """The fence's three steps (module docstring) on ``conn``, wherever the epoch is."""
        old, new = dep.role(activate.other()), dep.role(activate)
        found = await self._preflight(conn, dep)
        db_oids = self._database_oids(dep, found)
        apc = dep.ownership is OwnershipModel.APC_MANAGED
        role_write = "CREATEROLE (PostgreSQL 16+: with ADMIN OPTION)"
        revoke = self._connect_writes(layout, dep, old, grant=False)
        if apc:
            revoke.append(
                _Write(render(Q["nologin"], role=pg_ident(old)), role_write, f"role {old}")
            )
        revoke.append(_Write(layout.claim_sql(epoch, activate), "UPDATE", "the fencing epoch"))
        decision = await _locked_writes(
            conn, layout, lambda current: decide(current, epoch, activate), revoke
        )
        revoked_ms = _ms(started)
        still = await conn.fetch(Q["connectable"], old, list(dep.databases))
        if still:
            raise FencingIncomplete(
                dep.deployment_id,
                f"{old!r} can still CONNECT to {[r['datname'] for r in still]} through a "
                "role membership or PUBLIC; new side NOT granted",
            )
        terminated = await self._sweep(conn, dep, found.role_oids[old], db_oids)
        gone_ms = _ms(started)
        grant: list[_Write] = []
        if apc:
            grant.append(_Write(render(Q["login"], role=pg_ident(new)), role_write, f"role {new}"))
        grant += self._connect_writes(layout, dep, new, grant=True)
        grant.append(_Write(layout.mark_active_sql(epoch, activate), "UPDATE", "the fencing epoch"))

        def still_ours(now: FencingState) -> None:
            if (now.epoch, now.target_side) != (epoch, activate):
                decide(now, epoch, activate)  # raises StaleFencingEpoch: a newer fencer won

        await _locked_writes(conn, layout, still_ours, grant)
        return FencingOutcome(
            deployment_id=dep.deployment_id,
            epoch=epoch,
            active_side=activate,
            active_role=new,
            fenced_side=activate.other(),
            fenced_role=old,
            sessions_terminated=terminated,
            revoked_ms=revoked_ms,
            sessions_gone_ms=gone_ms,
            took_ms=_ms(started),
            already_applied=decision is Decision.ALREADY_APPLIED,
        )

    @staticmethod
    def _connect_writes(
        layout: EpochLayout, dep: DeploymentDatabases, role: str, *, grant: bool
    ) -> list[_Write]:
        """GRANT CONNECT to ``role``, or REVOKE it from PUBLIC and ``role``, on every
        database of the Deployment.

        With the provisioned helpers the owner role itself runs the statement (no
        lookup of our memberships); without them, the same statement as ourselves.
        """
        needs = f"MEMBER OF {pg_ident(dep.owner_role)}"
        where = "the Deployment's databases"
        if layout.helpers:
            return [_Write(layout.helper_sql(grant, dep.databases, role), needs, where)]
        name = "grant_connect" if grant else "revoke_connect"
        return [
            _Write(render(Q[name], database=pg_ident(db), role=pg_ident(role)), needs, where)
            for db in dep.databases
        ]

    async def _sweep(
        self, conn: PgConnection, dep: DeploymentDatabases, role_oid: int, db_oids: list[int]
    ) -> int:
        """End the old role's sessions; return once none exists and none can appear.

        A backend that passed its CONNECT check just before our REVOKE committed is not
        yet in pg_stat_activity, but it holds the database's startup lock until it is:
        so we loop until no such backend and no session of the role is left.
        """
        deadline = time.monotonic() + self._sweep_timeout_s
        signalled: set[int] = set()
        while True:
            starting = await conn.fetch(Q["starting_backends"], db_oids)
            pids = [row["pid"] for row in await conn.fetch(Q["role_sessions"], role_oid)]
            fresh = [pid for pid in pids if pid not in signalled]
            if fresh:
                async with _privilege(
                    f"MEMBER OF {pg_ident(dep.terminator_role)}", "the login roles' sessions"
                ):
                    await conn.fetchval(Q["terminate"], fresh)
                signalled.update(fresh)
            if not starting and not pids:
                return len(signalled)
            if time.monotonic() > deadline:
                raise FencingIncomplete(
                    dep.deployment_id, f"sessions {pids} (starting: {len(starting)}) still alive"
                )
            await asyncio.sleep(0.001)

    # -------------------------------------------------------------------- drop

    async def drop(self, deployment: DeploymentDatabases) -> None:
        dep = deployment
        async with self._central(dep) as central:
            if central is not None:
                conn, _ = central
                async with conn.transaction():
                    schema = pg_ident(helper_schema(dep))
                    await self._ddl(conn, "drop_helper_schema", schema=schema)
                    await conn.execute(Q["epochs_forget"], dep.deployment_id)
        conn = await self._connect()
        try:
            for db in dep.databases:
                await self._ddl(conn, "drop_database", database=pg_ident(db))
            if dep.ownership is OwnershipModel.APC_MANAGED:
                for role in dep.all_roles:
                    await self._ddl(conn, "drop_role", role=pg_ident(role))
        finally:
            await conn.close()
