"""Which fencer the Pilot's settings make (no database needed: the fencer connects lazily)."""

from __future__ import annotations

import pytest

from jetbridge.common.sql.dsn import server_endpoint
from jetbridge.fencing.mysql import MySQLFencer
from jetbridge.fencing.postgres import PostgresFencer
from jetbridge.pilot.entrypoints.app import make_fencer
from jetbridge.pilot.entrypoints.settings import PilotSettings

BASE = {
    "JETBRIDGE_PILOT_CLUSTER_NAME": "dp-east",
    "JETBRIDGE_PILOT_CLUSTER_ADAPTER": "memory",
    "JETBRIDGE_PILOT_FLIGHTDECK_DSN": "postgresql://x/fd",
    "JETBRIDGE_PILOT_DATABASE_ADMIN_DSN": "postgresql://jb@db.example/postgres",
    "JETBRIDGE_PILOT_DATABASE_SIDE": "A",
}


def settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> PilotSettings:
    for key, value in (BASE | env).items():
        monkeypatch.setenv(key, value)
    return PilotSettings()  # type: ignore[call-arg]


async def test_the_settings_name_the_state_database_and_the_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = settings(
        monkeypatch,
        JETBRIDGE_PILOT_FENCING_STATE_DATABASE="fencing-east",
        JETBRIDGE_PILOT_FENCING_POOL_SIZE="3",
    )
    fencer = make_fencer(s.database_admin_dsn, s.fencing_state_database, s.fencing_pool_size)
    assert isinstance(fencer, PostgresFencer)
    assert (fencer._state_database, fencer._pool_size) == ("fencing-east", 3)
    monkeypatch.delenv("JETBRIDGE_PILOT_FENCING_STATE_DATABASE")
    monkeypatch.delenv("JETBRIDGE_PILOT_FENCING_POOL_SIZE")
    defaults = settings(monkeypatch)
    assert (defaults.fencing_state_database, defaults.fencing_pool_size) == (
        "jetbridge_fencing",
        8,
    )
    mysql = make_fencer("mysql://jb@db.example/", defaults.fencing_state_database)
    assert isinstance(mysql, MySQLFencer)
    await fencer.close()  # nothing was opened: closing is a no-op


def test_a_pool_of_no_connections_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="fencing_pool_size"):
        settings(monkeypatch, JETBRIDGE_PILOT_FENCING_POOL_SIZE="0")


async def test_customer_managed_users_on_either_server(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings(monkeypatch).database_users == "apc"
    customer = settings(monkeypatch, JETBRIDGE_PILOT_DATABASE_USERS="customer")
    assert customer.database_users == "customer"
    on_mysql = settings(
        monkeypatch,
        JETBRIDGE_PILOT_DATABASE_USERS="customer",
        JETBRIDGE_PILOT_DATABASE_ADMIN_DSN="mysql://jb@db.example/",
    )  # refused before 2026-12-07: the fencer now fences MySQL grants alone
    assert on_mysql.database_users == "customer"
    with pytest.raises(ValueError, match="database_users"):
        settings(monkeypatch, JETBRIDGE_PILOT_DATABASE_USERS="nobody")


def test_a_secrets_role_needs_the_service_account_it_is_bound_to(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    role = {"JETBRIDGE_PILOT_SECRETS_ROLE": "jetbridge-pilot-secrets"}
    bound = settings(monkeypatch, **role, JETBRIDGE_PILOT_SERVICE_ACCOUNT="jetbridge/pilot")
    assert (bound.secrets_role, bound.service_account) == (
        "jetbridge-pilot-secrets",
        "jetbridge/pilot",
    )
    for account in ("", "pilot", "jetbridge/"):
        with pytest.raises(ValueError, match="JETBRIDGE_PILOT_SERVICE_ACCOUNT as namespace/name"):
            settings(monkeypatch, **role, JETBRIDGE_PILOT_SERVICE_ACCOUNT=account)


def test_the_database_endpoint_must_be_the_server_the_admin_dsn_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The agent reports it and the control plane compares the two clusters' by it: a
    value that is not the Pilot's own server would hide the very mismatch it guards."""
    ok = settings(monkeypatch, JETBRIDGE_PILOT_DATABASE_ENDPOINT="DB.example:5432")
    assert ok.database_endpoint == "DB.example:5432"  # BASE's DSN, default port
    with pytest.raises(ValueError, match=r"admin DSN names 'db\.example:5432'"):
        settings(monkeypatch, JETBRIDGE_PILOT_DATABASE_ENDPOINT="db-west.example:5432")
    assert settings(monkeypatch, JETBRIDGE_PILOT_DATABASE_ENDPOINT="").database_endpoint == ""
    assert server_endpoint("mysql://jb:pw@My.Host/x") == "my.host:3306"
    assert server_endpoint("postgresql://jb:pw@h:6543/x") == "h:6543"
    assert server_endpoint("postgresql:///x") == ""  # a Unix socket names no server


def test_an_endpoint_is_read_as_the_drivers_read_it_and_never_quotes_the_dsn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert server_endpoint("postgresql://jb@db/x?port=6543") == "db:6543"
    assert server_endpoint("postgresql://jb@/x?host=db.example&port=7") == "db.example:7"
    assert server_endpoint("postgresql:///x?host=/var/run/postgresql") == ""  # a socket
    assert server_endpoint("postgresql://jb@[FD00::1]:5433/x") == "[fd00::1]:5433"
    with pytest.raises(ValueError) as unreadable:  # a '/' in the password
        server_endpoint("postgresql://jb:s3cr/et99@db/x")
    assert "s3cr" not in str(unreadable.value) and "et99" not in str(unreadable.value)
    # Without an endpoint to check, the Pilot does not parse the DSN at all.
    odd = settings(monkeypatch, JETBRIDGE_PILOT_DATABASE_ADMIN_DSN="postgresql://jb:s3cr/et@db/x")
    assert odd.database_endpoint == ""
