"""PostgreSQL: the fence's fast path (direct grants + SECURITY DEFINER helpers).

With many Deployments a fence must not make PostgreSQL compute every role Jetbridge's
role is a member of (docs/database-fencing.md, "Many Deployments"), so provisioning
gives that role direct grants and two helper functions owned by the owner role. These
tests pin down that the helpers widen nothing (login roles cannot reach them, a caller
that is no longer a member of the owner role is refused, a missing privilege is still
named before anything is revoked) and that Deployments provisioned before the helpers
existed are still fenced, the old way, until provisioning runs again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from jetbridge.fencing.domain import DeploymentDatabases, MissingPrivilege, Side
from jetbridge.fencing.quoting import pg_ident

from .conftest import POSTGRES_VARIANTS, deployed, engine_of
from .harness import Engine, PgSession
from .test_contract import can_login_and_write

pytestmark = pytest.mark.integration

HELPERS = (
    "jetbridge_fencing.revoke_connect(text[], text)",
    "jetbridge_fencing.grant_connect(text[], text)",
)


@pytest.fixture(scope="module", params=POSTGRES_VARIANTS, ids=[v.id for v in POSTGRES_VARIANTS])
async def engine(request: pytest.FixtureRequest) -> AsyncIterator[Engine]:
    """PostgreSQL engines only: MariaDB has no role memberships to look up."""
    async with engine_of(request) as eng:
        yield eng


async def superuser(engine: Engine, database: str | None = None) -> asyncpg.Connection:
    if database is None:
        return await asyncpg.connect(engine.superuser_dsn)
    return await asyncpg.connect(engine.superuser_dsn, database=database)


async def revoke_every_grant(engine: Engine, role: str, member: str) -> None:
    """Make ``member`` no member of ``role`` at all (PG16+: one grant per grantor)."""
    su = await superuser(engine)
    try:
        if int(await su.fetchval("SHOW server_version_num")) < 160000:
            await su.execute(f"REVOKE {pg_ident(role)} FROM {pg_ident(member)}")
        while grantor := await su.fetchval(
            "SELECT grantor::regrole::text FROM pg_auth_members "
            "WHERE roleid = (SELECT oid FROM pg_roles WHERE rolname = $1) "
            "AND member = (SELECT oid FROM pg_roles WHERE rolname = $2) LIMIT 1",
            role,
            member,
        ):
            await su.execute(
                f"REVOKE {pg_ident(role)} FROM {pg_ident(member)} GRANTED BY {grantor} CASCADE"
            )
        assert not await su.fetchval(
            "SELECT pg_has_role($2::text, $1::text, 'MEMBER')", role, member
        )
    finally:
        await su.close()


async def provisioned_the_old_way(engine: Engine, dep: DeploymentDatabases) -> None:
    """What provisioning left before the fast path: no helpers, no direct grants."""
    admin = pg_ident(engine.admin)
    su = await superuser(engine, dep.epoch_database)
    try:
        for helper in HELPERS:
            await su.execute(f"DROP FUNCTION {helper}")
        await su.execute(f"REVOKE ALL ON SCHEMA jetbridge_fencing FROM {admin}")
        await su.execute(f"REVOKE ALL ON jetbridge_fencing.state FROM {admin}")
        for db in dep.databases:
            await su.execute(f"REVOKE ALL ON DATABASE {pg_ident(db)} FROM {admin}")
    finally:
        await su.close()


async def test_provisioning_grants_the_fast_path(engine: Engine) -> None:
    async with deployed(engine, extra_db=True) as dep:
        su = await superuser(engine, dep.epoch_database)
        try:
            for helper in HELPERS:
                row = await su.fetchrow(
                    "SELECT p.prosecdef, pg_get_userbyid(p.proowner) AS owner, p.proconfig, "
                    "EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0) "
                    "AS public_may, "
                    "EXISTS (SELECT 1 FROM aclexplode(p.proacl) a "
                    "        WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $2)) "
                    "AS admin_may "
                    "FROM pg_proc p WHERE p.oid = $1::regprocedure",
                    helper,
                    engine.admin,
                )
                assert row is not None, helper
                assert row["prosecdef"] and row["owner"] == dep.owner_role
                assert row["proconfig"] == ["search_path=pg_catalog, pg_temp"]
                assert row["admin_may"] and not row["public_may"]
            for db in dep.databases:  # CONNECT granted to Jetbridge's role itself
                assert await su.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM pg_database d, aclexplode(d.datacl) a "
                    "WHERE d.datname = $1 AND a.privilege_type = 'CONNECT' "
                    "AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $2))",
                    db,
                    engine.admin,
                )
            for side in Side:  # the login roles reach neither the schema nor the helpers
                role = dep.role(side)
                assert not await su.fetchval(
                    "SELECT has_schema_privilege($1::text, 'jetbridge_fencing', 'USAGE')", role
                )
        finally:
            await su.close()


async def test_login_roles_cannot_call_the_helpers(engine: Engine) -> None:
    async with deployed(engine) as dep:
        session = await engine.login(dep, Side.A)
        assert isinstance(session, PgSession)
        try:
            for helper in ("grant_connect", "revoke_connect"):
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await session.conn.execute(
                        f"SELECT jetbridge_fencing.{helper}($1::text[], $2::text)",
                        list(dep.databases),
                        dep.role_b,
                    )
        finally:
            await session.close()
        assert not await can_login_and_write(engine, dep, Side.B)


async def test_a_caller_no_longer_in_the_owner_role_is_refused(engine: Engine) -> None:
    """Direct grants stay when the owner membership goes; the helpers and the preflight
    still refuse, and nothing is revoked."""
    async with deployed(engine) as dep:
        await revoke_every_grant(engine, dep.owner_role, engine.admin)
        with pytest.raises(MissingPrivilege) as missing:
            await engine.fencer(engine.admin).fence(dep, Side.B, 1)
        assert dep.owner_role in missing.value.privilege
        host, port = engine.host_port
        admin = await asyncpg.connect(
            host=host,
            port=port,
            user=engine.admin,
            password=engine.admin_password,
            database=dep.epoch_database,
        )
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="not a member"):
                await admin.execute(
                    "SELECT jetbridge_fencing.grant_connect($1::text[], $2::text)",
                    list(dep.databases),
                    dep.role_b,
                )
        finally:
            await admin.close()
        assert await can_login_and_write(engine, dep, Side.A)
        assert not await can_login_and_write(engine, dep, Side.B)
        su = await superuser(engine, dep.epoch_database)
        try:
            epoch = await su.fetchval("SELECT epoch FROM jetbridge_fencing.state")
        finally:
            await su.close()
        assert epoch == 0


async def test_deployments_provisioned_before_the_fast_path(engine: Engine) -> None:
    async with deployed(engine, extra_db=True) as dep:
        await provisioned_the_old_way(engine, dep)
        fencer = engine.fencer(engine.admin)
        outcome = await fencer.fence(dep, Side.B, 1)  # the old statements, as ourselves
        assert (outcome.epoch, outcome.active_role) == (1, dep.role_b)
        assert await can_login_and_write(engine, dep, Side.B)
        assert not await can_login_and_write(engine, dep, Side.A)
        again = await fencer.provision(dep, engine.passwords)  # adds the fast path
        assert (again.epoch, again.active_side) == (1, Side.B)
        back = await fencer.fence(dep, Side.A, 2)
        assert (back.epoch, back.active_side) == (2, Side.A)
        assert await can_login_and_write(engine, dep, Side.A)
        assert not await can_login_and_write(engine, dep, Side.B)
