"""The Fencer contract, run against every engine variant (see conftest.VARIANTS)."""

from __future__ import annotations

import asyncio

import pytest

from jetbridge.fencing.domain import (
    FencingPhase,
    MissingPrivilege,
    NotProvisioned,
    OwnershipModel,
    Side,
    StaleFencingEpoch,
    fencing_completed_payload,
    fencing_refused_payload,
)

from .conftest import deployed
from .harness import Engine, Session

pytestmark = pytest.mark.integration


async def can_login_and_write(engine: Engine, dep, side: Side) -> bool:  # type: ignore[no-untyped-def]
    try:
        session = await engine.login(dep, side)
    except Exception:
        return False
    try:
        await session.write(f"check-{side}")
        return True
    except Exception:
        return False
    finally:
        await session.close()


async def probe_ready(engine: Engine, dep) -> Session:  # type: ignore[no-untyped-def]
    """A held session of side A (which created the probe tables in ``deployed``)."""
    return await engine.login(dep, Side.A)


async def test_provision_blocks_the_inactive_side_at_once(engine: Engine) -> None:
    async with deployed(engine, extra_db=True) as dep:
        fencer = engine.fencer(engine.admin)
        state = await fencer.state(dep)
        assert (state.epoch, state.active_side, state.phase) == (0, Side.A, FencingPhase.ACTIVE)
        session = await probe_ready(engine, dep)
        assert await session.write("A") == 1
        await session.close()
        assert not await can_login_and_write(engine, dep, Side.B)
        again = await fencer.provision(dep, engine.passwords)  # idempotent
        assert (again.epoch, again.active_side, again.blocked_role) == (0, Side.A, dep.role_b)
        assert again.databases_created == ()  # they exist since ``deployed``
        assert again.roles_created == ()  # and so do the login roles
        assert await can_login_and_write(engine, dep, Side.A)


async def test_provision_reports_what_it_created_and_a_re_run_nothing(engine: Engine) -> None:
    """What the Pilot reports as ``already_applied`` (nothing created) rests on this."""
    fencer = engine.fencer(engine.admin)
    dep = engine.deployment(extra_db=True)
    try:
        if engine.ownership is OwnershipModel.CUSTOMER_MANAGED:
            engine.run_customer_sql(dep, engine.admin)
        first = await fencer.provision(dep, engine.passwords)
        again = await fencer.provision(dep, engine.passwords)
    finally:
        await engine.superuser_drop(dep)
    if engine.ownership is OwnershipModel.CUSTOMER_MANAGED:
        assert first.roles_created == ()  # the customer made them
    else:  # the login roles, and on PostgreSQL the owner, data and terminator roles too
        assert {dep.role_a, dep.role_b} <= set(first.roles_created)
    assert first.databases_created == dep.databases
    assert (again.roles_created, again.databases_created) == ((), ())


async def test_fence_moves_writes_ends_old_sessions_and_fails_back(engine: Engine) -> None:
    async with deployed(engine, extra_db=True) as dep:
        fencer = engine.fencer(engine.admin)
        held = await probe_ready(engine, dep)
        await held.write("A")
        outcome = await fencer.fence(dep, Side.B, 1)
        assert (outcome.epoch, outcome.active_role, outcome.fenced_role) == (
            1,
            dep.role_b,
            dep.role_a,
        )
        assert outcome.sessions_terminated >= 1 and not outcome.already_applied
        assert outcome.revoked_ms <= outcome.sessions_gone_ms <= outcome.took_ms
        assert await engine.sessions_of(dep.role_a) == 0
        with pytest.raises(Exception):  # noqa: B017 - driver-specific "connection closed"
            await held.write("A")
        await held.close()
        assert not await can_login_and_write(engine, dep, Side.A)
        assert await can_login_and_write(engine, dep, Side.B)  # B uses the tables A created
        state = await fencer.state(dep)
        assert (state.epoch, state.active_side) == (1, Side.B)

        back = await fencer.fence(dep, Side.A, 2)  # failback
        assert (back.epoch, back.active_side) == (2, Side.A)
        assert await can_login_and_write(engine, dep, Side.A)
        assert not await can_login_and_write(engine, dep, Side.B)


async def test_same_epoch_and_side_is_idempotent(engine: Engine) -> None:
    async with deployed(engine) as dep:
        fencer = engine.fencer(engine.admin)
        first = await fencer.fence(dep, Side.B, 7)
        again = await fencer.fence(dep, Side.B, 7)
        assert not first.already_applied and again.already_applied
        assert (again.epoch, again.active_side, again.sessions_terminated) == (7, Side.B, 0)
        assert await can_login_and_write(engine, dep, Side.B)
        assert not await can_login_and_write(engine, dep, Side.A)


async def test_stale_fencer_is_refused_as_data_and_changes_nothing(engine: Engine) -> None:
    async with deployed(engine) as dep:
        fencer = engine.fencer(engine.admin)
        await probe_ready(engine, dep)
        await fencer.fence(dep, Side.B, 5)
        holder = await engine.login(dep, Side.B)
        for epoch, side in ((4, Side.A), (5, Side.A), (3, Side.B)):
            with pytest.raises(StaleFencingEpoch) as refused:
                await fencer.fence(dep, side, epoch)
            assert (refused.value.current_epoch, refused.value.attempted_epoch) == (5, epoch)
        payload = fencing_refused_payload(refused.value, dep, flight_id="f1", mission_id="m1")
        assert payload["attempted_epoch"] == 3 and payload["current_epoch"] == 5
        assert payload["current_active_role"] == dep.role_b
        await holder.write("B")  # the active side's session survived the refusals
        await holder.close()
        state = await fencer.state(dep)
        assert (state.epoch, state.active_side) == (5, Side.B)
        assert not await can_login_and_write(engine, dep, Side.A)


async def test_concurrent_fencers_the_newest_epoch_wins(engine: Engine) -> None:
    async with deployed(engine) as dep:
        fencer = engine.fencer(engine.admin)
        results = await asyncio.gather(
            fencer.fence(dep, Side.B, 1), fencer.fence(dep, Side.A, 2), return_exceptions=True
        )
        for result in results:
            assert not isinstance(result, BaseException) or isinstance(result, StaleFencingEpoch)
        state = await fencer.state(dep)
        assert (state.epoch, state.active_side) == (2, Side.A)
        assert await can_login_and_write(engine, dep, Side.A)
        assert not await can_login_and_write(engine, dep, Side.B)


async def test_quotes_spaces_and_unicode_in_names(engine: Engine) -> None:
    async with deployed(engine, weird=True, extra_db=True) as dep:
        assert "'" in dep.role_a and '"' in dep.databases[0] and "ü" in dep.data_role
        fencer = engine.fencer(engine.admin)
        session = await probe_ready(engine, dep)
        await session.close()
        outcome = await fencer.fence(dep, Side.B, 1)
        payload = fencing_completed_payload(
            outcome, flight_id="f", mission_id="m", attempt=1, fenced_at_ms=1_700_000_000_000
        )
        assert payload["active_role"] == dep.role_b and payload["epoch"] == 1
        assert await can_login_and_write(engine, dep, Side.B)
        assert not await can_login_and_write(engine, dep, Side.A)


async def test_missing_privilege_is_named(engine: Engine) -> None:
    if engine.kind == "mysql":
        lacking, expected = "CONNECTION ADMIN", "CONNECTION ADMIN"
    elif engine.ownership is OwnershipModel.APC_MANAGED:
        lacking, expected = "CREATEROLE", "CREATEROLE"
    else:
        lacking, expected = "CREATEDB", "CREATEDB"
    admin = await engine.create_admin(without=lacking)
    dep = engine.deployment()
    try:
        if engine.ownership is OwnershipModel.CUSTOMER_MANAGED:
            engine.run_customer_sql(dep, admin)
        with pytest.raises(MissingPrivilege) as missing:
            await engine.fencer(admin).provision(dep, engine.passwords)
        assert missing.value.privilege == expected and expected in str(missing.value)
    finally:
        await engine.superuser_drop(dep)
        await engine.drop_admin(admin)


async def test_fence_without_the_right_to_end_sessions_is_refused_up_front(engine: Engine) -> None:
    """No terminator membership (PostgreSQL) / no CONNECTION ADMIN (MariaDB): the fence
    fails naming it BEFORE revoking anything, so the active side keeps working."""
    async with deployed(engine) as dep:
        await engine.take_kill_right(dep, give_back=False)
        try:
            with pytest.raises(MissingPrivilege) as missing:
                await engine.fencer(engine.admin).fence(dep, Side.B, 1)
        finally:
            await engine.take_kill_right(dep, give_back=True)
        expected = "CONNECTION ADMIN" if engine.kind == "mysql" else dep.terminator_role
        assert expected in missing.value.privilege
        assert await can_login_and_write(engine, dep, Side.A)
        state = await engine.fencer(engine.admin).state(dep)
        assert (state.epoch, state.active_side) == (0, Side.A)


async def test_drop_removes_databases(engine: Engine) -> None:
    fencer = engine.fencer(engine.admin)
    async with deployed(engine) as dep:
        await fencer.drop(dep)
        assert not await can_login_and_write(engine, dep, Side.A)


async def test_a_customers_missing_login_is_named_before_anything_is_revoked(
    customer_engine: Engine,
) -> None:
    """Customer-managed: Jetbridge cannot make a login the customer dropped (or never
    made). The fence names it, NotProvisioned, before it revokes anything: side A
    keeps writing and the epoch stays, instead of one side shut out and no other
    opened."""
    engine = customer_engine
    async with deployed(engine) as dep:
        await engine.drop_login(dep, Side.B)
        with pytest.raises(NotProvisioned) as missing:
            await engine.fencer(engine.admin).fence(dep, Side.B, 1)
        assert dep.role_b in str(missing.value), missing.value
        assert await can_login_and_write(engine, dep, Side.A)
        state = await engine.fencer(engine.admin).state(dep)
        assert (state.epoch, state.active_side) == (0, Side.A)


async def test_a_read_only_server_says_why_and_a_writable_one_nothing(engine: Engine) -> None:
    """The spec's failover order promotes the replica before the failover: the Pilot
    asks before a Controlled source stops. PostgreSQL: a role whose sessions default to
    read-only (a real standby, which answers pg_is_in_recovery: test_standby.py);
    MariaDB: the server switched to read_only, as a replica is (reset at once: it is
    shared)."""
    fencer = engine.fencer(engine.admin)
    assert await fencer.read_only() is None
    if engine.kind == "postgres":
        on = f'ALTER ROLE "{engine.admin}" SET default_transaction_read_only = on'
        off = f'ALTER ROLE "{engine.admin}" RESET default_transaction_read_only'
        expected = "transaction_read_only"
    else:
        on, off, expected = "SET GLOBAL read_only = 1", "SET GLOBAL read_only = 0", "read_only"
    await engine.superuser_execute(on)
    try:
        problem = await fencer.read_only()
    finally:
        await engine.superuser_execute(off)
    assert problem is not None and expected in problem, problem
    assert await fencer.read_only() is None
