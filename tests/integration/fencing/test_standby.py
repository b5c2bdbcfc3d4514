"""The synchronized-servers topology on a real PostgreSQL replica.

The spec's order for a regional failover: promote the replica, move the endpoint, then
fail over. This builds a throwaway primary and a streaming standby (PostgreSQL 15,
``pg_basebackup -R``), provisions and fences a Deployment on the primary, and checks
what the failover then meets on the standby: before promotion the fencer says the
server is a standby (the Pilot's writable check refuses to start on it); after it,
the server is writable, the replicated epoch still refuses a stale fence, and the
next fence goes on there.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from jetbridge.fencing.domain import DeploymentDatabases, Side, StaleFencingEpoch
from jetbridge.fencing.postgres import PostgresFencer
from jetbridge.pilot.adapters.database import LibFencer
from jetbridge.pilot.domain.steps import ErrorCode, StepFailure
from tests.integration.flightdeck.dbs import pg_fetch
from tests.polling import eventually

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "deploy" / "local"))
from ports import free_port
from procs import make_owned_dir, run

BIN = Path("/usr/lib/postgresql/15/bin")
OS_USER = "postgres"  # PostgreSQL refuses to run as root
CONF = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{run_dir}'
fsync = off
max_connections = 50
shared_buffers = 16MB
"""
LOGINS = "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = ANY($1::text[])"
# A throwaway pair on loopback, torn down with the test: trust is enough here.
HBA = """
local all all trust
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
"""


@dataclass(frozen=True)
class Server:
    data: Path
    port: int

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        """Stop it if it runs (the test may have stopped it): pg_ctl, else SIGQUIT to
        the postmaster, so no server outlives the directory about to be removed."""
        try:
            self.pg_ctl("stop", "-m", "immediate")
        except Exception:  # not running, or pg_ctl failed: the pid file says which
            pid_file = self.data / "postmaster.pid"
            if pid_file.exists():
                with contextlib.suppress(ValueError, ProcessLookupError):
                    os.kill(int(pid_file.read_text().splitlines()[0]), signal.SIGQUIT)

    def pg_ctl(self, *args: str) -> None:
        log = self.data.parent / f"{self.data.name}.log"
        run(
            [str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(log), "-w", *args],
            f"pg_ctl {' '.join(args)}",
            user=OS_USER,
            timeout=120,
        )


@pytest.fixture
def pair() -> Iterator[tuple[Server, Server]]:
    if not (BIN / "initdb").exists():
        pytest.fail(f"PostgreSQL 15 binaries missing at {BIN}: run `make bootstrap`")
    # Not pytest's tmp_path: its parent is root's alone, and the servers run as postgres.
    with tempfile.TemporaryDirectory(prefix="jetbridge-replica-") as top:
        Path(top).chmod(0o755)
        yield from _pair(Path(top) / "replication")


def _pair(base: Path) -> Iterator[tuple[Server, Server]]:
    make_owned_dir(base, OS_USER, 0o755)
    run_dir = base / "run"
    make_owned_dir(run_dir, OS_USER, 0o755)
    primary, standby = Server(base / "primary", free_port()), Server(base / "standby", free_port())
    run(
        [
            str(BIN / "initdb"),
            "-D",
            str(primary.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-instructions",
        ],
        "initdb",
        user=OS_USER,
    )
    _append(primary.data / "postgresql.conf", CONF.format(port=primary.port, run_dir=run_dir))
    _write(primary.data / "pg_hba.conf", HBA)
    started = []  # each added before its start: a start that timed out still runs
    try:
        started.append(primary)
        primary.pg_ctl("start")
        run(
            [
                str(BIN / "pg_basebackup"),
                "-h",
                "127.0.0.1",
                "-p",
                str(primary.port),
                "-U",
                "postgres",
                "-D",
                str(standby.data),
                "-R",
                "-X",
                "stream",
            ],
            "pg_basebackup",
            user=OS_USER,
            timeout=120,
        )
        _append(standby.data / "postgresql.conf", f"port = {standby.port}\n")
        started.append(standby)
        standby.pg_ctl("start")
        yield primary, standby
    finally:
        for server in started:
            server.stop()


async def test_a_standby_refuses_until_promoted_then_the_replicated_fence_goes_on(
    pair: tuple[Server, Server],
) -> None:
    primary, standby = pair
    dep = DeploymentDatabases.named("dep-replicated")
    on_primary, on_standby = PostgresFencer(primary.dsn), PostgresFencer(standby.dsn)
    try:
        await on_primary.provision(dep, {Side.A: "pw-a", Side.B: "pw-b"})
        await on_primary.fence(dep, Side.B, 1)  # a first failover, on the primary
        assert await on_primary.read_only() is None
        await _until_replayed(primary, standby)

        # Before promotion: the failover that comes too early is told why, and the
        # Pilot's first destination step waits (a transient failure, retried).
        problem = await on_standby.read_only()
        assert problem is not None and "standby" in problem, problem
        pilot = LibFencer(on_standby, side="A", server_url=standby.dsn)
        with pytest.raises(StepFailure) as refused:
            await pilot.check_writable()
        assert (refused.value.code, refused.value.transient) == (
            ErrorCode.DATABASE_READ_ONLY,
            True,
        )
        state = await on_standby.state(dep)  # the replica holds the epoch already
        assert (state.epoch, state.target_side) == (1, Side.B)

        # The region is lost; the customer promotes the replica (the endpoint moves).
        primary.pg_ctl("stop", "-m", "immediate")
        standby.pg_ctl("promote")
        assert await on_standby.read_only() is None
        await pilot.check_writable()  # the retry goes on
        with pytest.raises(StaleFencingEpoch):  # the replicated epoch still rules
            await on_standby.fence(dep, Side.A, 1)
        await on_standby.fence(dep, Side.A, 2)  # the failback, on the new primary
        state = await on_standby.state(dep)
        assert (state.epoch, state.target_side) == (2, Side.A)
        logins = await _can_login(standby, dep)
        assert logins == {dep.role_a: True, dep.role_b: False}
    finally:
        for fencer in (on_primary, on_standby):  # the primary's pool met a killed server
            with contextlib.suppress(Exception):
                await fencer.close()


async def _until_replayed(primary: Server, standby: Server, timeout_s: float = 60) -> None:
    """Wait until the standby has replayed everything the primary has written so far."""
    source = await asyncpg.connect(primary.dsn)
    try:
        target_lsn = await source.fetchval("SELECT pg_current_wal_lsn()::text")
    finally:
        await source.close()
    replica = await asyncpg.connect(standby.dsn)
    try:
        query = "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn"
        await eventually(
            lambda: replica.fetchval(query, target_lsn),
            f"the standby to replay up to {target_lsn}",
            timeout=timeout_s,
            every=0.05,
        )
    finally:
        await replica.close()


async def _can_login(server: Server, dep: DeploymentDatabases) -> dict[str, bool]:
    rows = await pg_fetch(server.dsn, LOGINS, [dep.role_a, dep.role_b])
    return {r["rolname"]: r["rolcanlogin"] for r in rows}


def _append(path: Path, text: str) -> None:
    with path.open("a") as file:
        file.write(text)


def _write(path: Path, text: str) -> None:
    path.write_text(text)
