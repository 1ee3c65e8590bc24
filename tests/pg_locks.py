"""Watching PostgreSQL's lock waits, for tests that make two transactions meet on a row."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


async def backend_waiting_on_a_lock(engine: AsyncEngine, what: str = "the transaction") -> int:
    """The pid of the one backend of this database that waits for a lock, once one does (within 4 s)."""
    async with engine.connect() as probe:
        for _ in range(200):
            pid = (
                await probe.execute(
                    text(
                        "SELECT pid FROM pg_stat_activity "
                        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    )
                )
            ).scalar()
            if pid is not None:
                return pid
            await asyncio.sleep(0.02)
    raise AssertionError(f"{what} never waited on the held row")
