"""PostgreSQL: where the epoch lives, and the fence's fast path.

With many Deployments a fence must not make PostgreSQL compute every role Jetbridge's
role is a member of (docs/database-fencing.md, "Many Deployments"), so provisioning
gives that role direct grants and two helper functions owned by the owner role; and it
must not open a new backend in the Deployment's database ("Where the epoch lives"), so
the epoch row and the helpers live in Jetbridge's state database on the same server.
These tests pin down that the state database widens nothing (login roles cannot reach
it, a caller that is no longer a member of the owner role is refused, a missing
privilege is still named before anything is revoked), that concurrent first
provisionings share one state database, and that Deployments provisioned with the epoch
in their own database (before 2026-12-03, with or without helpers) are still fenced
there, and stay there when provisioning runs again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from jetbridge.fencing.domain import (
    DeploymentDatabases,
    MissingPrivilege,
    NotProvisioned,
    OwnershipModel,
    Side,
)
from jetbridge.fencing.postgres import PostgresFencer
from jetbridge.fencing.postgres_layouts import LOCAL_SCHEMA, create_helpers
from jetbridge.fencing.quoting import pg_ident, render
from jetbridge.fencing.sqlfiles import queries

from .conftest import POSTGRES_VARIANTS, deployed, engine_of
from .harness import Engine
from .test_contract import can_login_and_write

pytestmark = pytest.mark.integration

Q = queries("postgresql")


def helpers(schema: str) -> tuple[str, str]:
    where = pg_ident(schema)
    return (f"{where}.revoke_connect(text[], text)", f"{where}.grant_connect(text[], text)")


@pytest.fixture(scope="module", params=POSTGRES_VARIANTS, ids=[v.id for v in POSTGRES_VARIANTS])
async def engine(request: pytest.FixtureRequest) -> AsyncIterator[Engine]:
    """PostgreSQL engines only: MariaDB has no role memberships to look up."""
    async with engine_of(request) as eng:
        yield eng


async def superuser(engine: Engine, database: str | None = None) -> asyncpg.Connection:
    if database is None:
        return await asyncpg.connect(engine.superuser_dsn)
    return await asyncpg.connect(engine.superuser_dsn, database=database)


async def as_superuser(engine: Engine, sql: str, database: str | None = None) -> None:
    su = await superuser(engine, database)
    try:
        await su.execute(sql)
    finally:
        await su.close()


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


async def admin_session(engine: Engine, database: str) -> asyncpg.Connection:
    host, port = engine.host_port
    return await asyncpg.connect(
        host=host, port=port, user=engine.admin, password=engine.admin_password, database=database
    )


async def central_epoch(engine: Engine, dep: DeploymentDatabases) -> int | None:
    su = await superuser(engine, engine.state_database)
    try:
        return await su.fetchval(
            "SELECT epoch FROM jetbridge_fencing.epochs WHERE deployment_id = $1",
            dep.deployment_id,
        )
    finally:
        await su.close()


async def provisioned_with_a_local_epoch(
    engine: Engine, dep: DeploymentDatabases, *, with_helpers: bool
) -> None:
    """What provisioning left before 2026-12-03: the epoch row (epoch 0, side A) in the
    Deployment's own database, made as the admin acting as the owner role, with or
    without the helpers of the fast path; nothing in the state database."""
    admin = await admin_session(engine, dep.epoch_database)
    try:
        async with admin.transaction():
            owner = pg_ident(dep.owner_role)
            await admin.execute(render(Q["set_local_role"], role=owner))
            await admin.execute(render(Q["state_schema"], owner=owner))
            await admin.execute(Q["state_table"])
            await admin.execute(Q["init_state"], dep.deployment_id, "A")
            if with_helpers:
                await create_helpers(admin, dep, LOCAL_SCHEMA)
                await admin.execute(Q["grant_state"])
    finally:
        await admin.close()
    await engine.forget_central(dep)
    if not with_helpers:  # and no direct grants either
        su = await superuser(engine)
        try:
            admin = pg_ident(engine.admin)
            for db in dep.databases:
                await su.execute(f"REVOKE ALL ON DATABASE {pg_ident(db)} FROM {admin}")
        finally:
            await su.close()


async def test_provisioning_keeps_the_epoch_in_the_state_database(engine: Engine) -> None:
    async with deployed(engine, extra_db=True) as dep:
        assert await central_epoch(engine, dep) == 0
        su = await superuser(engine, dep.epoch_database)
        try:  # nothing of Jetbridge's in the Deployment's own database
            assert await su.fetchval("SELECT to_regnamespace('jetbridge_fencing')") is None
            for db in dep.databases:  # CONNECT granted to Jetbridge's role itself
                assert await su.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM pg_database d, aclexplode(d.datacl) a "
                    "WHERE d.datname = $1 AND a.privilege_type = 'CONNECT' "
                    "AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $2))",
                    db,
                    engine.admin,
                )
            row = await su.fetchrow(
                "SELECT pg_get_userbyid(datdba) AS owner, "
                "has_database_privilege($2::text, datname, 'CONNECT') AS a_may, "
                "has_database_privilege($3::text, datname, 'CONNECT') AS b_may "
                "FROM pg_database WHERE datname = $1",
                engine.state_database,
                dep.role_a,
                dep.role_b,
            )
            assert row is not None
            assert row["owner"] == engine.admin and not row["a_may"] and not row["b_may"]
        finally:
            await su.close()
        su = await superuser(engine, engine.state_database)
        try:
            schema = await su.fetchrow(
                "SELECT pg_get_userbyid(nspowner) AS owner, "
                "has_schema_privilege($2::text, oid, 'CREATE') AS owner_role_may "
                "FROM pg_namespace WHERE nspname = $1",
                dep.owner_role,
                dep.owner_role,
            )
            assert schema is not None
            assert schema["owner"] == engine.admin and schema["owner_role_may"]
            for helper in helpers(dep.owner_role):
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
            shared = await su.fetchrow(  # what the helpers call: runs as its caller
                "SELECT p.prosecdef, pg_get_userbyid(p.proowner) AS owner, p.proconfig "
                "FROM pg_proc p "
                "WHERE p.oid = 'jetbridge_fencing.set_connect(text[], text, boolean)'::regprocedure"
            )
            assert shared is not None and not shared["prosecdef"]
            assert shared["owner"] == engine.admin
            assert shared["proconfig"] == ["search_path=pg_catalog, pg_temp"]
        finally:
            await su.close()


async def test_the_active_login_role_cannot_reach_the_state_database(engine: Engine) -> None:
    async with deployed(engine) as dep:
        host, port = engine.host_port
        assert await can_login_and_write(engine, dep, Side.A)  # its own database: yes
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="CONNECT"):
            await asyncpg.connect(
                host=host,
                port=port,
                user=dep.role_a,
                password=engine.passwords[Side.A],
                database=engine.state_database,
            )


async def test_a_caller_no_longer_in_the_owner_role_is_refused(engine: Engine) -> None:
    """Direct grants stay when the owner membership goes; the helpers and the preflight
    still refuse, and nothing is revoked."""
    async with deployed(engine) as dep:
        await revoke_every_grant(engine, dep.owner_role, engine.admin)
        with pytest.raises(MissingPrivilege) as missing:
            await engine.fencer(engine.admin).fence(dep, Side.B, 1)
        assert dep.owner_role in missing.value.privilege
        admin = await admin_session(engine, engine.state_database)
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="not a member"):
                await admin.execute(
                    f"SELECT {pg_ident(dep.owner_role)}.grant_connect($1::text[], $2::text)",
                    list(dep.databases),
                    dep.role_b,
                )
        finally:
            await admin.close()
        assert await can_login_and_write(engine, dep, Side.A)
        assert not await can_login_and_write(engine, dep, Side.B)
        assert await central_epoch(engine, dep) == 0


async def test_a_login_role_gone_is_not_provisioned_before_anything_changes(
    engine: Engine,
) -> None:
    """The preflight names a missing role as NotProvisioned (a permanent failure; until
    2026-12-06 it surfaced as pg_has_role's "role does not exist", which the Pilot took
    for a passing database error and retried), and nothing is revoked."""
    async with deployed(engine) as dep:
        for database in (*dep.databases, engine.state_database):
            await as_superuser(engine, f"DROP OWNED BY {pg_ident(dep.role_b)}", database)
        await as_superuser(engine, f"DROP ROLE {pg_ident(dep.role_b)}")
        with pytest.raises(NotProvisioned, match=dep.role_b):
            await engine.fencer(engine.admin).fence(dep, Side.B, 1)
        assert await can_login_and_write(engine, dep, Side.A)
        assert await central_epoch(engine, dep) == 0


@pytest.mark.parametrize(
    "engine",
    [v for v in POSTGRES_VARIANTS if v.ownership is OwnershipModel.APC_MANAGED],
    ids=lambda v: v.id,
    indirect=True,
)
async def test_a_write_refused_in_the_one_query_transaction_is_named_and_undone(
    engine: Engine,
) -> None:
    """A fence sends each transaction's writes and COMMIT as one query. When one write
    is refused (here ALTER ROLE ... NOLOGIN: CREATEROLE taken from Jetbridge's role
    after provisioning, which the fence's preflight does not look at), the whole
    transaction is rolled back and run again one statement at a time, so the error
    names that write; nothing changed, and the pooled connection is clean for the next
    fence. (APC-managed only: a customer-managed fence alters no role.)"""
    async with deployed(engine) as dep:
        su = await superuser(engine)
        fencer = engine.fencer(engine.admin)
        admin = pg_ident(engine.admin)
        try:
            await su.execute(f"ALTER ROLE {admin} NOCREATEROLE")
            try:
                with pytest.raises(MissingPrivilege) as missing:
                    await fencer.fence(dep, Side.B, 1)
            finally:
                await su.execute(f"ALTER ROLE {admin} CREATEROLE")
            assert missing.value.privilege.startswith("CREATEROLE")
            assert dep.role_a in missing.value.object
            assert await central_epoch(engine, dep) == 0
            assert await can_login_and_write(engine, dep, Side.A)
            assert not await can_login_and_write(engine, dep, Side.B)
            outcome = await fencer.fence(dep, Side.B, 1)
        finally:
            await su.close()
        assert (outcome.epoch, outcome.active_side) == (1, Side.B)
        assert await can_login_and_write(engine, dep, Side.B)
        assert not await can_login_and_write(engine, dep, Side.A)


# The helpers as provisioned before 2026-12-03 20:00: plpgsql, each Deployment's own
# member check. Deployments in the field still have them.
OLD_HELPERS = """
CREATE OR REPLACE FUNCTION {schema}.require_caller_member()
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_auth_members
        WHERE roleid = (SELECT oid FROM pg_roles WHERE rolname = current_user)
          AND member = (SELECT oid FROM pg_roles WHERE rolname = session_user)
    ) AND NOT pg_has_role(session_user, current_user, 'MEMBER') THEN
        RAISE EXCEPTION 'permission denied: % is not a member of %',
            session_user, current_user USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$fn$;
"""
OLD_HELPER = """
CREATE OR REPLACE FUNCTION {schema}.NAME(databases text[], role text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    db text;
BEGIN
    PERFORM {schema}.require_caller_member();
    FOREACH db IN ARRAY databases LOOP
        EXECUTE format('STATEMENT', db, role);
    END LOOP;
END
$fn$;
"""
OLD_HELPERS += OLD_HELPER.replace("NAME", "revoke_connect").replace(
    "STATEMENT", "REVOKE CONNECT ON DATABASE %I FROM PUBLIC, %I"
)
OLD_HELPERS += OLD_HELPER.replace("NAME", "grant_connect").replace(
    "STATEMENT", "GRANT CONNECT ON DATABASE %I TO %I"
)


async def test_helpers_provisioned_before_the_shared_function_fence_and_are_replaced(
    engine: Engine,
) -> None:
    async with deployed(engine) as dep:
        schema = pg_ident(dep.owner_role)
        su = await superuser(engine, engine.state_database)
        try:
            async with su.transaction():
                await su.execute(render(Q["set_local_role"], role=schema))
                await su.execute(OLD_HELPERS.replace("{schema}", schema))
        finally:
            await su.close()
        fencer = engine.fencer(engine.admin)
        assert (await fencer.fence(dep, Side.B, 1)).active_role == dep.role_b  # old helpers
        assert await can_login_and_write(engine, dep, Side.B)
        assert not await can_login_and_write(engine, dep, Side.A)
        await fencer.provision(dep, engine.passwords)  # replaces them
        su = await superuser(engine, engine.state_database)
        try:
            languages = await su.fetch(
                "SELECT p.proname, l.lanname FROM pg_proc p "
                "JOIN pg_language l ON l.oid = p.prolang "
                "JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = $1 ORDER BY p.proname",
                dep.owner_role,
            )
        finally:
            await su.close()
        assert [(r["proname"], r["lanname"]) for r in languages] == [
            ("grant_connect", "sql"),
            ("revoke_connect", "sql"),
        ]
        assert (await fencer.fence(dep, Side.A, 2)).active_role == dep.role_a
        assert await can_login_and_write(engine, dep, Side.A)
        assert not await can_login_and_write(engine, dep, Side.B)


async def test_first_provisionings_side_by_side_share_one_new_state_database(
    engine: Engine,
) -> None:
    """Four fencers, no state database yet: each may try to create it and its table."""
    fresh = f"{engine.tag}-fresh"
    dsn = engine.fencer(engine.admin)._dsn  # type: ignore[union-attr]
    fencers = [PostgresFencer(dsn, state_database=fresh) for _ in range(4)]
    deps = [engine.deployment() for _ in fencers]
    try:
        if engine.ownership.value == "CUSTOMER_MANAGED":
            for dep in deps:
                engine.run_customer_sql(dep, engine.admin)
        results = await asyncio.gather(
            *(f.provision(d, engine.passwords) for f, d in zip(fencers, deps, strict=True))
        )
        assert [r.epoch for r in results] == [0, 0, 0, 0]
        su = await superuser(engine, fresh)
        try:
            rows = await su.fetch("SELECT deployment_id, epoch FROM jetbridge_fencing.epochs")
        finally:
            await su.close()
        assert sorted(r["deployment_id"] for r in rows) == sorted(d.deployment_id for d in deps)
        fenced = await fencers[0].fence(deps[3], Side.B, 1)  # any fencer reaches any row
        assert (fenced.epoch, fenced.active_role) == (1, deps[3].role_b)
    finally:
        for f in fencers:
            await f.close()
        await as_superuser(engine, f"DROP DATABASE IF EXISTS {pg_ident(fresh)} WITH (FORCE)")
        for dep in deps:
            await engine.superuser_drop(dep)


@pytest.mark.parametrize("with_helpers", [True, False], ids=["local-helpers", "local-no-helpers"])
async def test_deployments_with_their_epoch_in_their_own_database(
    engine: Engine, with_helpers: bool
) -> None:
    async with deployed(engine, extra_db=True) as dep:
        await provisioned_with_a_local_epoch(engine, dep, with_helpers=with_helpers)
        fencer = engine.fencer(engine.admin)
        outcome = await fencer.fence(dep, Side.B, 1)  # in the Deployment's database
        assert (outcome.epoch, outcome.active_role) == (1, dep.role_b)
        assert await can_login_and_write(engine, dep, Side.B)
        assert not await can_login_and_write(engine, dep, Side.A)
        again = await fencer.provision(dep, engine.passwords)  # keeps the local epoch
        assert (again.epoch, again.active_side) == (1, Side.B)
        assert await central_epoch(engine, dep) is None
        back = await fencer.fence(dep, Side.A, 2)
        assert (back.epoch, back.active_side) == (2, Side.A)
        assert await can_login_and_write(engine, dep, Side.A)
        assert not await can_login_and_write(engine, dep, Side.B)
        su = await superuser(engine, dep.epoch_database)
        try:
            assert await su.fetchval("SELECT epoch FROM jetbridge_fencing.state") == 2
            made = await su.fetchval(  # re-provisioning added the helpers if missing
                "SELECT count(*) FROM pg_proc "
                "WHERE pronamespace = 'jetbridge_fencing'::regnamespace "
                "AND proname IN ('grant_connect', 'revoke_connect')"
            )
            assert made == 2
        finally:
            await su.close()


async def test_the_tenants_functions_never_run_as_the_fencer_in_its_database(
    engine: Engine,
) -> None:
    """A fence of a local-epoch Deployment runs in the Deployment's own database, where
    the tenant may create functions in ``public``. An overload that fits an argument
    better than the built-in one (``pg_has_role(text, name, text)``: the built-in takes
    ``name`` first) would be called instead, as the fencing role: CVE-2018-1058's
    pattern. Fencer sessions resolve names in the catalogue only."""
    async with deployed(engine, extra_db=True) as dep:
        await provisioned_with_a_local_epoch(engine, dep, with_helpers=True)
        planted = [
            "CREATE TABLE public.hits (who text, what text)",
            "GRANT INSERT ON public.hits TO PUBLIC",
            "CREATE FUNCTION public.pg_has_role(u text, r name, p text) RETURNS boolean"
            " LANGUAGE plpgsql AS $$ BEGIN INSERT INTO public.hits VALUES"
            " (current_user, 'pg_has_role'); RETURN pg_catalog.pg_has_role(u::name, r, p);"
            " END $$",
            "CREATE FUNCTION public.has_database_privilege(u text, d name, p text)"
            " RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN INSERT INTO public.hits VALUES"
            " (current_user, 'has_database_privilege');"
            " RETURN pg_catalog.has_database_privilege(u, d::text, p); END $$",
        ]
        for sql in planted:
            await as_superuser(engine, sql, dep.epoch_database)
        fencer = engine.fencer(engine.admin)
        outcome = await fencer.fence(dep, Side.B, 1)  # in the Deployment's database
        assert (outcome.epoch, outcome.active_role) == (1, dep.role_b)
        again = await fencer.provision(dep, engine.passwords)
        assert (again.epoch, again.active_side) == (1, Side.B)
        su = await superuser(engine, dep.epoch_database)
        try:
            assert await su.fetch("SELECT who, what FROM public.hits") == []
        finally:
            await su.close()


async def test_a_server_with_local_epochs_only_gets_its_state_database_at_the_first_fence(
    engine: Engine,
) -> None:
    """Every Deployment provisioned before 2026-12-03: no state database yet. The first
    fence makes it (empty) once, instead of failing to connect to it at every fence."""
    fresh = f"{engine.tag}-later"
    dsn = engine.fencer(engine.admin)._dsn  # type: ignore[union-attr]
    async with deployed(engine) as dep:
        await provisioned_with_a_local_epoch(engine, dep, with_helpers=True)
        try:
            async with PostgresFencer(dsn, state_database=fresh) as fencer:
                outcome = await fencer.fence(dep, Side.B, 1)
                assert (outcome.epoch, outcome.active_role) == (1, dep.role_b)
            su = await superuser(engine, fresh)
            try:
                assert await su.fetchval("SELECT count(*) FROM jetbridge_fencing.epochs") == 0
            finally:
                await su.close()
            assert await can_login_and_write(engine, dep, Side.B)
        finally:
            su = await superuser(engine)
            try:
                await su.execute(f"DROP DATABASE IF EXISTS {pg_ident(fresh)} WITH (FORCE)")
            finally:
                await su.close()


async def test_another_fencing_role_is_refused_by_the_state_database_naming_it(
    engine: Engine,
) -> None:
    """A second fencing role on the same server (say, a rotated one) cannot use the
    first one's state database: the fence names the privilege and changes nothing."""
    other = await engine.create_admin(without="NOTHING")  # every privilege, another name
    try:
        async with deployed(engine) as dep:
            with pytest.raises(MissingPrivilege) as missing:
                await engine.fencer(other).fence(dep, Side.B, 1)
            assert missing.value.privilege == "CONNECT"
            assert engine.state_database in missing.value.object
            assert await can_login_and_write(engine, dep, Side.A)
            assert await central_epoch(engine, dep) == 0
    finally:
        await engine.drop_admin(other)
