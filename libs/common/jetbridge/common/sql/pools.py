"""What Jetbridge's asyncpg pools share."""

from __future__ import annotations

import asyncpg


async def keep_session(conn: asyncpg.Connection) -> None:
    """A pool's ``reset``: there is no session state to undo, so send nothing.

    asyncpg's default reset runs ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL`` on every release: one round trip and four statements per acquire, a
    cost every flight step and every append paid. Jetbridge's pooled connections keep
    no session state: no session ``SET`` (``SET LOCAL`` ends with its transaction), no
    LISTEN and no cursor; a session advisory lock is either taken on a dedicated
    connection (the outbox relay) or unlocked before its connection goes back (the
    projections' writer lock). asyncpg still rolls back an open transaction first.
    """
    del conn
