"""A real InnoDB deadlock whose victim is a Flightdeck write: it is run again, once.

CI saw ``(1213, 'Deadlock found when trying to get lock')`` from ``complete_many`` with
8 claimers on a loaded machine. Here the deadlock is made on purpose on MariaDB: a
"heavy" transaction (many rows changed, so InnoDB prefers the other side as victim)
holds flight ``flt-b`` while ``complete_many([flt-a, flt-b])`` holds ``flt-a`` and waits
for ``flt-b``; then the heavy one asks for ``flt-a``. InnoDB rolls the completion back;
the adapter must run it again and finish both flights with their outbox rows once.
"""

from __future__ import annotations

import asyncio
import logging

import asyncmy
import pytest

from jetbridge.flightdeck import Completion, OutboxEvent, Outcome, open_flightdeck
from jetbridge.flightdeck.mysql import mysql_connect_kwargs
from tests.polling import eventually

from .contract import flight
from .dbs import mysql_database, mysql_fetch


async def test_a_deadlocked_completion_is_run_again_and_lands_once(
    mysql_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="jetbridge.flightdeck.mysql")
    async with mysql_database(mysql_dsn, "fd_deadlock") as dsn:
        store = await open_flightdeck(dsn)
        heavy = await asyncmy.connect(**mysql_connect_kwargs(dsn), autocommit=False)
        try:
            await store.enqueue_many([flight("a"), flight("b")])
            await store.enqueue_many([flight(f"filler-{i}") for i in range(300)])
            claims = {c.flight_id: c for c in await store.claim("pilot-1", 2, 60)}
            assert set(claims) == {"flt-a", "flt-b"}

            async with heavy.cursor() as cur:
                await cur.execute("BEGIN")
                # Weight: 300 changed rows make the other transaction the cheaper victim.
                await cur.execute(
                    "UPDATE dp_flights SET updated_at = UTC_TIMESTAMP(6) "
                    "WHERE flight_id LIKE 'flt-filler-%%'"
                )
                await cur.execute("SELECT 1 FROM dp_flights WHERE flight_id = 'flt-b' FOR UPDATE")
                await cur.fetchall()

            completing = asyncio.create_task(
                store.complete_many(
                    [
                        Completion(c, Outcome.SUCCEEDED, [OutboxEvent("flights", id_.encode())])
                        for id_, c in claims.items()
                    ]
                )
            )
            # Wait until the completion holds flt-a and waits for flt-b: only then does
            # asking for flt-a make the deadlock (a fixed sleep could ask too early).
            try:
                await _until_a_lock_wait(dsn)
            except BaseException:
                completing.cancel()  # not left pending on the closed store
                raise
            assert not completing.done()

            async with heavy.cursor() as cur:
                await cur.execute("SELECT 1 FROM dp_flights WHERE flight_id = 'flt-a' FOR UPDATE")
                await cur.fetchall()  # granted once InnoDB has rolled the completion back
                await cur.execute("COMMIT")

            assert await asyncio.wait_for(completing, 30) == set()
        finally:
            await heavy.ensure_closed()
            await store.close()

        reruns = [r for r in caplog.records if "running it again" in r.getMessage()]
        assert len(reruns) == 1, [r.getMessage() for r in reruns]
        assert "1213" in reruns[0].getMessage()
        rows = await mysql_fetch(
            dsn, "SELECT flight_id, state FROM dp_flights WHERE flight_id IN ('flt-a', 'flt-b')"
        )
        assert {(r["flight_id"], r["state"]) for r in rows} == {
            ("flt-a", "SUCCEEDED"),
            ("flt-b", "SUCCEEDED"),
        }
        outbox = await mysql_fetch(dsn, "SELECT flight_id FROM dp_flight_outbox ORDER BY flight_id")
        assert [r["flight_id"] for r in outbox] == ["flt-a", "flt-b"]


_WAITS_HERE = (
    "SELECT COUNT(*) AS n FROM information_schema.INNODB_LOCK_WAITS AS w"
    " JOIN information_schema.INNODB_LOCKS AS l ON l.lock_id = w.requested_lock_id"
    " WHERE l.lock_table = CONCAT('`', DATABASE(), '`.`dp_flights`')"
)


async def _until_a_lock_wait(dsn: str, timeout_s: float = 30.0) -> None:
    """Poll InnoDB until a transaction waits for a row lock of this database's
    ``dp_flights`` (the server is shared: another test's waits do not count)."""

    async def waits() -> int:
        return int((await mysql_fetch(dsn, _WAITS_HERE))[0]["n"])

    await eventually(waits, "a lock wait on dp_flights", timeout=timeout_s, every=0.05)
