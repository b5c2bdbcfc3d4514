"""MySQL/MariaDB Fencer (asyncmy): account lock, revoke, kill connections.

Same contract as the PostgreSQL fencer, different mechanics:
- GRANT/REVOKE/ALTER USER commit implicitly, so no transaction can hold the epoch row
  across them. A named lock (GET_LOCK, per Deployment, held by the session) serialises
  fencers instead, and the epoch is compared-and-set under it, in a row-locked
  transaction, before anything is revoked.
- An existing session keeps its database privileges (they are cached until it runs
  USE), so ending the old side's sessions is what actually stops its writes; we wait
  until they are gone from the process list before granting the other side.
- MySQL cannot hide one table of a database from a database-wide grant, so the epochs
  live in their own database on the same server (``jetbridge_fencing``), never
  granted to login users.
Both ownership models. APC_MANAGED: Jetbridge creates both accounts, and the inactive
one is also locked (ACCOUNT LOCK, which needs the global CREATE USER). CUSTOMER_MANAGED:
the customer creates both accounts (``sql/customer_setup_mysql.sql``) and Jetbridge,
without CREATE USER, fences with the database grants alone: the inactive account may
log in to the server but reaches none of the Deployment's databases. REVOKE is then
the barrier the session sweep relies on (see ``_sweep``).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

import asyncmy
from asyncmy.errors import MySQLError

from jetbridge.fencing.domain import (
    Decision,
    DeploymentDatabases,
    FencingBusy,
    FencingIncomplete,
    FencingOutcome,
    FencingPhase,
    FencingState,
    MissingPrivilege,
    NotProvisioned,
    OwnershipModel,
    ProvisionResult,
    Side,
    decide,
)
from jetbridge.fencing.quoting import Quoted, my_account, my_grant_database, my_ident, my_literal
from jetbridge.fencing.quoting import render as _render
from jetbridge.fencing.sqlfiles import queries

Q = queries("mysql")
REQUIRED_GLOBAL = ("CREATE USER", "PROCESS", "CONNECTION ADMIN")  # APC_MANAGED
# CUSTOMER_MANAGED: no account is created or locked, so no CREATE USER.
REQUIRED_GLOBAL_CUSTOMER = ("PROCESS", "CONNECTION ADMIN")
_DENIED = {1044, 1095, 1142, 1227, 1410}  # access denied / kill denied / need privilege
# The notes CREATE USER IF NOT EXISTS leaves for an existing account: MariaDB, MySQL 8.
_ACCOUNT_EXISTS = frozenset({1973, 3163})
_NO_SUCH_GRANT = 1141
_NO_SUCH_ACCOUNT = frozenset({1133, 1410})  # no row in the user table / may not create one
_NEED = re.compile(r"need \(at least one of\) the (.+?) privilege", re.IGNORECASE)


def _ms(since: float) -> float:
    return (time.monotonic() - since) * 1000.0


@asynccontextmanager
async def _privilege(privilege: str, obj: str) -> AsyncIterator[None]:
    try:
        yield
    except MySQLError as exc:
        code = exc.args[0] if exc.args else None
        if code in _DENIED:
            named = _NEED.search(str(exc))
            raise MissingPrivilege(named.group(1) if named else privilege, obj, str(exc)) from exc
        raise


class MySQLFencer:
    """Fences with a non-SUPER admin account (see the docs for its exact grants)."""

    def __init__(
        self,
        admin_dsn: str,
        *,
        account_host: str = "%",
        state_database: str = "jetbridge_fencing",
        sweep_timeout_s: float = 10.0,
        lock_timeout_s: int = 30,
    ) -> None:
        parts = urlsplit(admin_dsn)
        self._conn_args: dict[str, Any] = {
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 3306,
            "user": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "charset": "utf8mb4",
            "autocommit": True,
        }
        if "%" in state_database:
            raise ValueError("the state database name may not contain %")
        self._host = account_host
        self._state = my_ident(state_database)
        self._sweep_timeout_s = sweep_timeout_s
        self._lock_timeout_s = lock_timeout_s
        self._nbe = False  # NO_BACKSLASH_ESCAPES in the session's sql_mode

    async def close(self) -> None:
        """Nothing pooled: every call opens and closes its own connection."""

    async def _connect(self) -> asyncmy.Connection:
        conn = await asyncmy.connect(**self._conn_args)
        _, sql_mode = (await self._fetch(conn, Q["whoami"]))[0]
        self._nbe = "NO_BACKSLASH_ESCAPES" in str(sql_mode)
        return conn

    @staticmethod
    async def _fetch(
        conn: asyncmy.Connection, sql: str, args: Sequence[Any] | None = None
    ) -> list[Any]:
        async with conn.cursor() as cur:
            await cur.execute(sql, args)
            return list(await cur.fetchall())

    def render(self, name: str, **parts: Quoted) -> str:
        return _render(Q[name], state=self._state, **parts)

    def account(self, user: str) -> Quoted:
        return my_account(user, self._host, no_backslash_escapes=self._nbe)

    async def _exec(
        self,
        conn: asyncmy.Connection,
        name: str,
        args: Sequence[Any] | None = None,
        **parts: Quoted,
    ) -> list[Any]:
        return await self._fetch(conn, self.render(name, **parts), args)

    # --------------------------------------------------------------- preflight

    async def _require_global(self, conn: asyncmy.Connection, ownership: OwnershipModel) -> None:
        ((current_user, _),) = await self._fetch(conn, Q["whoami"])
        user, _, host = str(current_user).rpartition("@")
        grantee = f"'{user}'@'{host}'"
        have = {row[0] for row in await self._fetch(conn, Q["global_privileges"], [grantee])}
        customer = ownership is OwnershipModel.CUSTOMER_MANAGED
        for privilege in REQUIRED_GLOBAL_CUSTOMER if customer else REQUIRED_GLOBAL:
            if privilege not in have:
                raise MissingPrivilege(privilege, f"*.* for {grantee}")

    async def _require_accounts(self, conn: asyncmy.Connection, dep: DeploymentDatabases) -> None:
        """Customer-managed: both accounts exist, checked before anything is revoked,
        so a fence never shuts one side out and then finds no other side to open."""
        for side in Side:
            try:
                await self._exec(
                    conn,
                    "account_exists",
                    database=my_grant_database(dep.databases[0]),
                    account=self.account(dep.role(side)),
                )
            except MySQLError as exc:
                if exc.args and exc.args[0] in _NO_SUCH_ACCOUNT:
                    raise NotProvisioned(
                        dep.deployment_id,
                        f"account {dep.role(side)!r}@{self._host!r} (side {side}) does not"
                        " exist: with customer-managed users the customer creates both"
                        " (customer_setup_mysql.sql)",
                    ) from exc
                raise

    # --------------------------------------------------------------- provision

    async def provision(
        self, deployment: DeploymentDatabases, passwords: Mapping[Side, str] | None = None
    ) -> ProvisionResult:
        dep = deployment
        conn = await self._connect()
        created: list[str] = []
        made: list[str] = []  # databases
        try:
            await self._require_global(conn, dep.ownership)
            async with _privilege("ALL PRIVILEGES", f"database {self._state}"):
                await self._exec(conn, "state_database")
                await self._exec(conn, "state_table")
                await self._exec(conn, "init_state", [dep.deployment_id, dep.initial_active.value])
            existing = {row[0] for row in await self._fetch(conn, Q["existing_databases"])}
            for db in dep.databases:
                if db not in existing:
                    async with _privilege("CREATE", f"database {db}"):
                        await self._exec(conn, "create_database", database=my_ident(db))
                    made.append(db)
            if dep.ownership is OwnershipModel.CUSTOMER_MANAGED:
                await self._require_accounts(conn, dep)
            for side in Side if dep.ownership is OwnershipModel.APC_MANAGED else ():
                if not passwords or side not in passwords:
                    raise ValueError(f"APC_MANAGED provisioning needs a password for side {side}")
                async with _privilege("CREATE USER", f"account {dep.role(side)}"):
                    await self._exec(
                        conn,
                        "create_user",
                        account=self.account(dep.role(side)),
                        password=my_literal(passwords[side], no_backslash_escapes=self._nbe),
                    )
                notes = {int(row[1]) for row in await self._exec(conn, "warnings")}
                if not notes & _ACCOUNT_EXISTS:
                    created.append(dep.role(side))
        finally:
            conn.close()
        state = await self.state(dep)
        if state.epoch == 0:
            # APC_MANAGED accounts start locked; customer-made ones may have been used:
            # either way, shut the inactive side out, end its sessions, open the active.
            await self.fence(dep, dep.initial_active, 0)
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

    # ------------------------------------------------------------------- state

    async def read_only(self) -> str | None:
        conn = await self._connect()
        try:
            rows = await self._exec(conn, "read_only")
        finally:
            conn.close()
        if int(rows[0][0]):
            return "the database server is read-only (@@GLOBAL.read_only): not yet promoted"
        return None

    async def state(self, deployment: DeploymentDatabases) -> FencingState:
        conn = await self._connect()
        try:
            async with _privilege("SELECT", f"database {self._state}"):
                rows = await self._exec(conn, "read_state", [deployment.deployment_id])
        finally:
            conn.close()
        if not rows:
            raise NotProvisioned(deployment.deployment_id, f"no row in {self._state}.epochs")
        return _state(rows[0])

    # ------------------------------------------------------------------- fence

    async def fence(
        self, deployment: DeploymentDatabases, activate: Side, epoch: int
    ) -> FencingOutcome:
        dep, started = deployment, time.monotonic()
        old, new = dep.role(activate.other()), dep.role(activate)
        lock = "jetbridge-fencing:" + hashlib.sha256(dep.deployment_id.encode()).hexdigest()[:40]
        apc = dep.ownership is OwnershipModel.APC_MANAGED
        conn = await self._connect()
        try:
            await self._require_global(conn, dep.ownership)
            if not apc:
                await self._require_accounts(conn, dep)
            ((got,),) = await self._fetch(conn, Q["get_lock"], [lock, self._lock_timeout_s])
            if got != 1:
                raise FencingBusy(dep.deployment_id, float(self._lock_timeout_s))
            try:
                await conn.begin()
                try:
                    rows = await self._exec(conn, "lock_state", [dep.deployment_id])
                    if not rows:
                        raise NotProvisioned(dep.deployment_id, f"no row in {self._state}.epochs")
                    decision = decide(_state(rows[0]), epoch, activate)
                    await self._exec(
                        conn, "claim_epoch", [epoch, activate.value, dep.deployment_id]
                    )
                    await conn.commit()
                except BaseException:
                    await conn.rollback()
                    raise
                if apc:
                    async with _privilege("CREATE USER", f"account {old}"):
                        await self._exec(conn, "lock_account", account=self.account(old))
                for db in dep.databases:
                    await self._revoke(conn, db, old)
                revoked_ms = _ms(started)
                terminated = await self._sweep(conn, dep, old)
                gone_ms = _ms(started)
                if apc:
                    async with _privilege("CREATE USER", f"account {new}"):
                        await self._exec(conn, "unlock_account", account=self.account(new))
                for db in dep.databases:
                    async with _privilege("ALL PRIVILEGES WITH GRANT OPTION", f"database {db}"):
                        await self._exec(
                            conn,
                            "grant_database",
                            database=my_grant_database(db),
                            account=self.account(new),
                        )
                await self._exec(conn, "mark_active", [dep.deployment_id, epoch, activate.value])
            finally:
                await self._fetch(conn, Q["release_lock"], [lock])
        finally:
            conn.close()
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

    async def _revoke(self, conn: asyncmy.Connection, db: str, user: str) -> None:
        try:
            async with _privilege("ALL PRIVILEGES WITH GRANT OPTION", f"database {db}"):
                await self._exec(
                    conn,
                    "revoke_database",
                    database=my_grant_database(db),
                    account=self.account(user),
                )
        except MySQLError as exc:
            if not exc.args or exc.args[0] != _NO_SUCH_GRANT:  # nothing granted: fine
                raise

    async def _sweep(self, conn: asyncmy.Connection, dep: DeploymentDatabases, user: str) -> int:
        """KILL the fenced account's sessions and wait until none is listed.

        Called after ACCOUNT LOCK (APC_MANAGED) and the REVOKEs returned. The user name
        is set from the handshake, before the checks, so any thread that got past them
        is listed with an id at or below the watermark we read now. Later threads are
        refused: the login (APC_MANAGED), or any use of the Deployment's databases
        (CUSTOMER_MANAGED: the grants they would be checked against are gone).
        """
        deadline = time.monotonic() + self._sweep_timeout_s
        killed: set[int] = set()
        ((watermark,),) = await self._fetch(conn, Q["thread_watermark"])
        while True:
            ids = [row[0] for row in await self._fetch(conn, Q["sessions_of"], [user, watermark])]
            if not ids:
                return len(killed)
            for thread_id in ids:
                if thread_id in killed:
                    continue
                try:
                    async with _privilege("CONNECTION ADMIN", f"sessions of {user}"):
                        await self._fetch(conn, Q["kill"], [thread_id])
                except MySQLError as exc:
                    if not exc.args or exc.args[0] != 1094:  # already gone
                        raise
                killed.add(thread_id)
            if time.monotonic() > deadline:
                raise FencingIncomplete(dep.deployment_id, f"threads {ids} still alive")
            await asyncio.sleep(0.001)

    # -------------------------------------------------------------------- drop

    async def drop(self, deployment: DeploymentDatabases) -> None:
        """Drop the databases; the accounts too if Jetbridge made them (a customer's
        lose their grants on the databases and are left to the customer)."""
        conn = await self._connect()
        try:
            for db in deployment.databases:
                if deployment.ownership is OwnershipModel.CUSTOMER_MANAGED:
                    for side in Side:
                        await self._revoke(conn, db, deployment.role(side))
                await self._exec(conn, "drop_database", database=my_ident(db))
            for side in Side if deployment.ownership is OwnershipModel.APC_MANAGED else ():
                await self._exec(conn, "drop_user", account=self.account(deployment.role(side)))
            try:
                await self._exec(conn, "delete_state", [deployment.deployment_id])
            except MySQLError as exc:
                if not exc.args or exc.args[0] not in (1049, 1146):  # never provisioned
                    raise
        finally:
            conn.close()


def _state(row: Sequence[Any]) -> FencingState:
    deployment_id, epoch, target_side, phase = row
    return FencingState(
        deployment_id=str(deployment_id),
        epoch=int(epoch),
        target_side=Side(str(target_side)),
        phase=FencingPhase(str(phase)),
    )
