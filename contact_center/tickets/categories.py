"""The ticket categories every installation has, and their escalation tiers until an admin changes them."""

from __future__ import annotations

import contextlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_center.db.models import TicketCategory

BUILTIN = (
    ("complaint", "Complaint", "high"),
    ("service_request", "Service request", "normal"),
    ("inquiry", "Inquiry", "low"),
    ("repair", "Repair", "normal"),
)
# A tier's queue is a routing queue's name; a queue that does not exist routes to the default queue.
DEFAULT_TIERS: list[dict[str, Any]] = [
    {"tier": 1, "name": "L1 agent", "queue": "general", "notify": ["assignee"]},
    {"tier": 2, "name": "L2 specialist", "queue": "specialists", "notify": ["assignee", "team_lead"]},
    {"tier": 3, "name": "L3 supervisor", "queue": "supervisors", "notify": ["team_lead", "supervisors"]},
]


async def ensure_builtin(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Add the built-in categories that are missing (an admin's changes to existing ones stay)."""
    async with sessions.begin() as db:
        await ensure_categories(db)


async def ensure_categories(db: AsyncSession) -> None:
    """Inside the caller's transaction: add the built-in categories that are missing. Processes starting
    together may race to add one; the loser keeps the winner's row."""
    present = set((await db.execute(select(TicketCategory.code))).scalars())
    for code, label, priority in BUILTIN:
        if code in present:
            continue
        category = TicketCategory(
            code=code, label=label, tiers=DEFAULT_TIERS, default_priority=priority, builtin=True, active=True
        )
        with contextlib.suppress(IntegrityError):
            async with db.begin_nested():
                db.add(category)
