"""libs/fencing and the Airflow metadata database, seen from one cluster's side.

``LibFencer`` adapts a ``jetbridge.fencing`` Fencer (PostgreSQL or MySQL/MariaDB) to the
Pilot's ``DatabaseFencer``: the Deployment's databases and roles follow
``DeploymentDatabases.named`` and this cluster activates its own side. The drain's
counts of unfinished task instances are in ``task_instances``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from urllib.parse import quote, urlsplit

import asyncpg

from jetbridge.fencing.domain import (
    DeploymentDatabases,
    Fencer,
    FencingError,
    FencingOutcome,
    OwnershipModel,
    Side,
    StaleFencingEpoch,
)
from jetbridge.pilot.domain.steps import (
    ErrorCode,
    Fenced,
    FenceRefused,
    FencingRefusedFailure,
    permanent,
    transient,
)

# A server found writable is not asked again for this long: the check is server-wide,
# and a failover of 1,000 Deployments would otherwise open 1,000 connections for it. A
# server that turns read-only meanwhile fails the fence itself (transiently).
WRITABLE_FOR_S = 5.0


def _fenced(outcome: FencingOutcome, epoch: int) -> Fenced:
    return Fenced(
        epoch=epoch,
        active_role=outcome.active_role,
        fenced_role=outcome.fenced_role,
        sessions_terminated=outcome.sessions_terminated,
        already_applied=outcome.already_applied,
    )


class LibFencer:
    def __init__(
        self,
        fencer: Fencer,
        *,
        side: str,
        server_url: str,
        prefix: str = "airflow_",
        ownership: OwnershipModel = OwnershipModel.APC_MANAGED,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.side = side.upper()
        self._monotonic = monotonic
        self._writable_until = float("-inf")
        self._fencer = fencer
        self._server = urlsplit(server_url)
        self._prefix = prefix
        # CUSTOMER_MANAGED: provisioning creates no role and a fence alters none (no
        # NOLOGIN): it revokes CONNECT and ends sessions through the granted roles.
        self._ownership = ownership

    def databases(self, deployment_id: str) -> DeploymentDatabases:
        return DeploymentDatabases.named(
            deployment_id, prefix=self._prefix, ownership=self._ownership
        )

    def connection_url(self, deployment_id: str, side: str, password: str) -> str:
        dep = self.databases(deployment_id)
        role = dep.role(Side(side.upper()))
        host = self._server.hostname or "127.0.0.1"
        port = f":{self._server.port}" if self._server.port else ""
        scheme = "postgresql" if self._server.scheme.startswith("postgres") else "mysql"
        db = quote(dep.epoch_database)
        return f"{scheme}://{quote(role)}:{quote(password, safe='')}@{host}{port}/{db}"

    async def provision(self, deployment_id: str, passwords: Mapping[str, str]) -> Fenced:
        dep = self.databases(deployment_id)
        dep = dataclasses.replace(dep, initial_active=Side(self.side))
        try:
            result = await self._fencer.provision(
                dep, {Side(k.upper()): v for k, v in passwords.items()}
            )
        except FencingError as error:
            raise permanent(ErrorCode.FENCING_FAILED, f"provisioning: {error}") from error
        except (OSError, asyncpg.PostgresError) as error:
            raise transient(ErrorCode.DATABASE_UNAVAILABLE, f"provisioning: {error}") from error
        return Fenced(
            epoch=result.epoch,
            active_role=result.active_role,
            fenced_role=result.blocked_role,
            sessions_terminated=0,
            # Nothing made: a re-run (customer-managed roles are never made, so the
            # databases tell a first provisioning from a repeat in that model).
            already_applied=not (result.roles_created or result.databases_created),
        )

    async def check_writable(self) -> None:
        if self._monotonic() < self._writable_until:
            return
        try:
            problem = await self._fencer.read_only()
        except (OSError, asyncpg.PostgresError) as error:
            raise transient(ErrorCode.DATABASE_UNAVAILABLE, f"database server: {error}") from error
        if problem is not None:
            raise transient(
                ErrorCode.DATABASE_READ_ONLY,
                f"{problem}. Promote the replica and point the database endpoint at it "
                "before failing over (the spec's failover order)",
            )
        self._writable_until = self._monotonic() + WRITABLE_FOR_S

    async def fence(self, deployment_id: str, epoch: int) -> Fenced:
        dep = self.databases(deployment_id)
        try:
            outcome = await self._fencer.fence(dep, Side(self.side), epoch)
        except StaleFencingEpoch as stale:
            refusal = FenceRefused(
                attempted_epoch=stale.attempted_epoch,
                current_epoch=stale.current_epoch,
                requested_active_role=dep.role(stale.attempted_side),
                current_active_role=dep.role(stale.current_side),
            )
            raise FencingRefusedFailure(refusal, str(stale)) from stale
        except FencingError as error:
            # Busy or incomplete fences are retried; a missing privilege needs an operator.
            name = type(error).__name__
            if name in ("FencingBusy", "FencingIncomplete"):
                raise transient(ErrorCode.FENCING_FAILED, str(error)) from error
            raise permanent(ErrorCode.FENCING_FAILED, str(error)) from error
        except (OSError, asyncpg.PostgresError) as error:
            raise transient(ErrorCode.DATABASE_UNAVAILABLE, f"fencing: {error}") from error
        return _fenced(outcome, epoch)
