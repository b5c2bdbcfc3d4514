"""Fixtures shared by the whole suite.

Endpoints come from the local stack's env file (``.state/stack.env``, written by
``make stack-up``) or from ``JETBRIDGE_*`` environment variables. A test that needs a
service which is not configured FAILS with a message saying how to start it: the
suite never skips a test because a service is missing (``make test`` starts them all).
"""

from __future__ import annotations

import pytest

from jetbridge.common.settings import StackSettings, load_stack_settings

pytest_plugins = ["tests.hang_report"]


def _require(value: str, what: str) -> str:
    if not value:
        pytest.fail(
            f"{what} is not configured: run `make stack-up` (writes .state/stack.env) "
            "or set the JETBRIDGE_* variable.",
            pytrace=False,
        )
    return value


@pytest.fixture(scope="session")
def stack() -> StackSettings:
    return load_stack_settings()


@pytest.fixture(scope="session")
def kafka_bootstrap(stack: StackSettings) -> str:
    return _require(stack.kafka_bootstrap_servers, "Kafka (JETBRIDGE_KAFKA_BOOTSTRAP_SERVERS)")


@pytest.fixture(scope="session")
def postgres_dsn(stack: StackSettings) -> str:
    """Superuser DSN of Debian's PostgreSQL 15 instance of the local stack."""
    return _require(stack.postgres_dsn, "PostgreSQL 15 (JETBRIDGE_POSTGRES_DSN)")


@pytest.fixture(scope="session")
def postgres18_dsn(stack: StackSettings) -> str:
    """Superuser DSN of the embedded PostgreSQL 18 instance (PG16+ CREATEROLE rules)."""
    return _require(stack.postgres18_dsn, "PostgreSQL 18 (JETBRIDGE_POSTGRES18_DSN)")


@pytest.fixture(scope="session")
def mysql_dsn(stack: StackSettings) -> str:
    """Root DSN of the MariaDB instance, ``mysql://root:pw@127.0.0.1:13306/``."""
    return _require(stack.mysql_dsn, "MariaDB (JETBRIDGE_MYSQL_DSN)")
