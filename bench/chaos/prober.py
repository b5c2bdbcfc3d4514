"""Split-brain prober for the chaos runs: both sides try to write, all the time.

For each sampled Deployment, four writers on its metadata database: side A and side B,
each through a session it holds (reconnecting when it is cut) and through a new
connection each time. Side A uses the credentials the source cluster mounted; side B
those the destination mounts, once its Secret exists. A write bumps one counter row
and logs (n, side) in the same statement, so ``n`` is the commit order; split brain
would be a write by A after the first write by B.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from typing import Any

import asyncpg

from jetbridge.fencing.domain import DeploymentDatabases

HOLD_EVERY_S = 0.03
CONNECT_EVERY_S = 0.15
WRITE = (
    "WITH c AS (UPDATE chaos_probe_counter SET n = n + 1 WHERE id = 1 RETURNING n) "
    "INSERT INTO chaos_probe_log (n, side) SELECT n, $1 FROM c RETURNING n"
)


class Prober:
    def __init__(self, demo: Any, deployments: list[str], destination: str) -> None:
        self.demo = demo
        self.deployments = deployments
        self.destination = destination
        self._dsns: dict[tuple[str, str], str] = {}
        self._looked_at: dict[str, float] = {}
        self.counts: Counter[str] = Counter()
        self.logs: dict[str, list[tuple[int, str]]] = {}
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def database(self, deployment: str) -> str:
        return DeploymentDatabases.named(deployment, prefix=self.demo.dbs.prefix).epoch_database

    async def start(self) -> None:
        for d in self.deployments:
            conn = await asyncpg.connect(self.demo.dbs.superuser_dsn, database=self.database(d))
            try:
                await conn.execute(
                    "CREATE TABLE chaos_probe_counter (id int PRIMARY KEY, n bigint NOT NULL);"
                    "CREATE TABLE chaos_probe_log (n bigint PRIMARY KEY, side text NOT NULL);"
                    "INSERT INTO chaos_probe_counter VALUES (1, 0);"
                    "GRANT SELECT, INSERT, UPDATE ON chaos_probe_counter, chaos_probe_log"
                    " TO PUBLIC;"
                )
            finally:
                await conn.close()
            for side in ("A", "B"):
                self._tasks.append(asyncio.create_task(self._holder(d, side)))
                self._tasks.append(asyncio.create_task(self._connector(d, side)))

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)
        for d in self.deployments:
            conn = await asyncpg.connect(self.demo.dbs.superuser_dsn, database=self.database(d))
            try:
                rows = await conn.fetch("SELECT n, side FROM chaos_probe_log ORDER BY n")
            finally:
                await conn.close()
            self.logs[d] = [(int(r["n"]), str(r["side"])) for r in rows]

    async def _dsn(self, deployment: str, side: str) -> str:
        if side == "A":
            return str(self.demo.source_dsns.get(deployment, ""))
        if (deployment, side) in self._dsns:
            return self._dsns[deployment, side]
        # Until the destination has the Secret, look at most once a second per Deployment.
        if time.monotonic() - self._looked_at.get(deployment, 0.0) < 1.0:
            return ""
        self._looked_at[deployment] = time.monotonic()
        with contextlib.suppress(Exception):
            dsn = str(await self.demo.role_dsn(self.destination, deployment, "b"))
            if dsn:
                self._dsns[deployment, side] = dsn
            return dsn
        return ""

    async def _write(self, conn: asyncpg.Connection, deployment: str, side: str) -> None:
        await conn.fetchval(WRITE, side)
        self.counts[f"{side} wrote"] += 1

    async def _holder(self, deployment: str, side: str) -> None:
        conn: asyncpg.Connection | None = None
        while not self._stop.is_set():
            try:
                dsn = await self._dsn(deployment, side)
                if dsn:
                    if conn is None:
                        conn = await asyncpg.connect(dsn, timeout=2)
                    await self._write(conn, deployment, side)
            except Exception:
                self.counts[f"{side} refused"] += 1
                if conn is not None:
                    conn.terminate()
                conn = None
            await asyncio.sleep(HOLD_EVERY_S if conn is not None else CONNECT_EVERY_S)
        if conn is not None:
            conn.terminate()

    async def _connector(self, deployment: str, side: str) -> None:
        while not self._stop.is_set():
            try:
                dsn = await self._dsn(deployment, side)
                if dsn:
                    conn = await asyncpg.connect(dsn, timeout=2)
                    try:
                        await self._write(conn, deployment, side)
                    finally:
                        conn.terminate()
            except Exception:
                self.counts[f"{side} refused"] += 1
            await asyncio.sleep(CONNECT_EVERY_S)

    def split_brain(self) -> list[str]:
        """Every write by A after B's first, and any probed database B never wrote to."""
        problems = []
        for d, log in self.logs.items():
            first_b = next((n for n, side in log if side == "B"), None)
            if first_b is None:
                problems.append(f"{d}: side B never wrote")
                continue
            if not any(side == "A" for _, side in log):
                problems.append(f"{d}: side A never wrote (the probe saw nothing)")
            late = [n for n, side in log if side == "A" and n > first_b]
            if late:
                problems.append(f"{d}: side A wrote #{late[:5]} after B's first write #{first_b}")
        return problems

    def writes(self) -> dict[str, int]:
        return dict(self.counts)
