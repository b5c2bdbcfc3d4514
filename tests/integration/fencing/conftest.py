"""One contract suite, many servers: the ``engine`` fixture is parametrised over
PostgreSQL 15, PostgreSQL 18 (PG16+ CREATEROLE rules) and MariaDB, and over the
ownership models each supports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import NamedTuple

import pytest

from jetbridge.fencing.domain import DeploymentDatabases, OwnershipModel

from .harness import Engine


class Variant(NamedTuple):
    id: str
    dsn_fixture: str
    kind: str
    ownership: OwnershipModel


VARIANTS = [
    Variant("pg15-apc", "postgres_dsn", "postgres", OwnershipModel.APC_MANAGED),
    Variant("pg15-customer", "postgres_dsn", "postgres", OwnershipModel.CUSTOMER_MANAGED),
    Variant("pg18-apc", "postgres18_dsn", "postgres", OwnershipModel.APC_MANAGED),
    Variant("pg18-customer", "postgres18_dsn", "postgres", OwnershipModel.CUSTOMER_MANAGED),
    Variant("mariadb-apc", "mysql_dsn", "mysql", OwnershipModel.APC_MANAGED),
    Variant("mariadb-customer", "mysql_dsn", "mysql", OwnershipModel.CUSTOMER_MANAGED),
]


POSTGRES_VARIANTS = [v for v in VARIANTS if v.kind == "postgres"]
CUSTOMER_VARIANTS = [v for v in VARIANTS if v.ownership is OwnershipModel.CUSTOMER_MANAGED]


@asynccontextmanager
async def engine_of(request: pytest.FixtureRequest) -> AsyncIterator[Engine]:
    """The engine of ``request.param`` (a Variant), with an admin role of its own."""
    variant: Variant = request.param
    dsn = request.getfixturevalue(variant.dsn_fixture)
    eng = Engine(name=variant.id, kind=variant.kind, superuser_dsn=dsn, ownership=variant.ownership)
    eng.admin = await eng.create_admin()
    try:
        yield eng
    finally:
        await eng.drop_admin(eng.admin)


@pytest.fixture(scope="session", params=VARIANTS, ids=[v.id for v in VARIANTS])
async def engine(request: pytest.FixtureRequest) -> AsyncIterator[Engine]:
    async with engine_of(request) as eng:
        yield eng


@pytest.fixture(scope="session", params=CUSTOMER_VARIANTS, ids=[v.id for v in CUSTOMER_VARIANTS])
async def customer_engine(request: pytest.FixtureRequest) -> AsyncIterator[Engine]:
    """The engines where the customer makes the login roles (what Jetbridge may not)."""
    async with engine_of(request) as eng:
        yield eng


@asynccontextmanager
async def deployed(
    engine: Engine, *, admin: str | None = None, weird: bool = False, extra_db: bool = False
) -> AsyncIterator[DeploymentDatabases]:
    """A provisioned Deployment (customer SQL first if the customer manages users),
    with the probe tables created by side A."""
    admin = admin or engine.admin
    fencer = engine.fencer(admin)
    dep = engine.deployment(weird=weird, extra_db=extra_db)
    try:
        if engine.ownership is OwnershipModel.CUSTOMER_MANAGED:
            engine.run_customer_sql(dep, admin)
        await fencer.provision(dep, engine.passwords)
        creator = await engine.login(dep, dep.initial_active)  # probe tables, as side A
        await engine.create_probe_tables(creator)
        await creator.close()
        yield dep
    finally:
        await engine.superuser_drop(dep)
