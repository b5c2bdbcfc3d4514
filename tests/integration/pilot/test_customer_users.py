"""The Pilot's fence port with customer-created login roles, on real PostgreSQL.

The spec's second ownership model: the customer creates each Deployment's two login
roles (docs/database-fencing.md, "Customer-created database users", run here with
psql exactly as documented) and Jetbridge's role has no CREATEROLE. The Pilot must
provision and fence without ever creating or altering a role; with the APC-managed
model (the only one the Pilot had before) that role cannot even provision.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote

import asyncpg
import pytest

from jetbridge.fencing.domain import DeploymentDatabases, OwnershipModel, Side
from jetbridge.pilot.adapters.database import LibFencer
from jetbridge.pilot.domain.steps import StepFailure
from tests.integration.fencing.harness import Engine
from tests.integration.flightdeck.dbs import pg_fetch

pytestmark = pytest.mark.integration
CUSTOMER = OwnershipModel.CUSTOMER_MANAGED


@pytest.fixture
async def engine(postgres_dsn: str) -> AsyncIterator[Engine]:
    eng = Engine(
        name="pg15-customer", kind="postgres", superuser_dsn=postgres_dsn, ownership=CUSTOMER
    )
    eng.admin = await eng.create_admin()  # LOGIN CREATEDB, no CREATEROLE
    try:
        yield eng
    finally:
        await eng.drop_admin(eng.admin)


def _lib_fencer(engine: Engine, side: str, ownership: OwnershipModel) -> LibFencer:
    host, port = engine.host_port
    url = (
        f"postgresql://{quote(engine.admin)}:{quote(engine.admin_password)}@{host}:{port}/postgres"
    )
    return LibFencer(
        engine.fencer(engine.admin),
        side=side,
        server_url=url,
        prefix=f"{engine.tag}_",
        ownership=ownership,
    )


async def _can_connect(engine: Engine, dep: DeploymentDatabases, side: Side) -> bool:
    try:
        session = await engine.login(dep, side, connect_timeout=30)  # a refusal is at once
    except (asyncpg.PostgresError, OSError):
        return False
    await session.close()
    return True


async def test_customer_roles_are_provisioned_and_fenced_without_being_altered(
    engine: Engine,
) -> None:
    east, west = _lib_fencer(engine, "A", CUSTOMER), _lib_fencer(engine, "B", CUSTOMER)
    deployment_id = f"dep-{engine.tag}"
    dep = east.databases(deployment_id)
    assert dep.ownership is CUSTOMER
    try:
        engine.run_customer_sql(dep, engine.admin)
        passwords = {s.value: p for s, p in engine.passwords.items()}
        provisioned = await east.provision(deployment_id, passwords)
        assert (provisioned.active_role, provisioned.fenced_role) == (dep.role_a, dep.role_b)
        assert not provisioned.already_applied  # it made the databases, if no role
        assert (await east.provision(deployment_id, passwords)).already_applied
        assert await _can_connect(engine, dep, Side.A)
        assert not await _can_connect(engine, dep, Side.B)  # blocked at once

        fenced = await west.fence(deployment_id, 1)  # the destination takes over
        assert (fenced.active_role, fenced.fenced_role) == (dep.role_b, dep.role_a)
        assert await _can_connect(engine, dep, Side.B)
        assert not await _can_connect(engine, dep, Side.A)

        logins = await pg_fetch(
            engine.superuser_dsn,
            "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = ANY($1::text[])",
            [dep.role_a, dep.role_b],
        )
        # fenced by CONNECT alone: both roles still LOGIN, as the customer made them
        assert {r["rolname"]: r["rolcanlogin"] for r in logins} == {
            dep.role_a: True,
            dep.role_b: True,
        }
    finally:
        await engine.superuser_drop(dep)


async def test_the_apc_model_cannot_provision_with_a_customer_grade_role(engine: Engine) -> None:
    """What the Pilot did before it had a setting for the model: no CREATEROLE, no start."""
    apc = _lib_fencer(engine, "A", OwnershipModel.APC_MANAGED)
    deployment_id = f"dep-{engine.tag}-apc"
    dep = apc.databases(deployment_id)
    try:
        with pytest.raises(StepFailure) as refused:
            await apc.provision(deployment_id, {"A": "a", "B": "b"})
        assert not refused.value.transient and "CREATEROLE" in refused.value.message
    finally:
        await engine.superuser_drop(dep)
