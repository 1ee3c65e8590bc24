"""The demo's business calendar and SLA policies, so its tickets show clocks counting down."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.db.models import BusinessCalendar, SlaPolicy

OFFICE_HOURS = {day: [["08:00", "20:00"]] for day in ("mon", "tue", "wed", "thu", "fri")} | {
    "sat": [["09:00", "13:00"]]
}
# name, category, priority, first response, next response, resolution (minutes of business time)
POLICIES = (
    ("Complaints", "complaint", None, 60, 120, 8 * 60),
    ("Urgent requests", None, "urgent", 30, 60, 4 * 60),
    ("Everything else", None, None, 4 * 60, 8 * 60, 3 * 12 * 60),
)


async def seed_sla(db: AsyncSession) -> None:
    """Add an office calendar (US public holidays) and three policies when there are no policies yet."""
    if (await db.execute(select(func.count()).select_from(SlaPolicy))).scalar_one():
        return
    calendar = BusinessCalendar(
        name="Office hours", timezone="America/New_York", hours=OFFICE_HOURS, holiday_country="US"
    )
    db.add(calendar)
    await db.flush()
    db.add_all(
        SlaPolicy(
            name=name,
            position=n,
            category=category,
            priority=priority,
            first_response_minutes=first,
            next_response_minutes=following,
            resolution_minutes=resolution,
            warn_before_minutes=15,
            calendar_id=calendar.id,
        )
        for n, (name, category, priority, first, following, resolution) in enumerate(POLICIES, start=1)
    )
