"""Staffing for a coming day: the volume forecast per 15 minutes from the same weekday of past weeks, and the
agents each interval needs for the queue's service-level target by Erlang C (and Erlang A when the patience of
customers who abandoned has been measured), with routing's calculator.

The forecast of an interval is the mean of the contacts offered at the same local time on the same weekday of
the last `weeks` weeks (a week with no contact at that time counts as zero). The handle time is the mean over
the same weeks at that time, or over the whole of those days when that interval had none handled, or
`DEFAULT_AHT_SECONDS` without history. Patience is the mean wait before abandoning over those days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.db.models import IntervalStat
from contact_center.reports.counters import ALL_AGENTS
from contact_center.reports.figures import Figures
from contact_center.reports.intervals import INTERVAL, day_bounds
from routing.erlang import staffing
from routing.erlang_a import erlang_a_staffing

DEFAULT_AHT_SECONDS = 180.0
INTERVALS_PER_HOUR = 4


@dataclass(frozen=True)
class StaffingTarget:
    """The queue's goal: a share of contacts answered within a number of seconds."""

    service_level: float
    seconds: float


async def staffing_forecast(
    db: AsyncSession, *, queue: str, day: date, weeks: int, target: StaffingTarget, zone: ZoneInfo
) -> dict[str, Any]:
    """Per 15 minutes of `day` (local time): forecast contacts, handle time, agents by Erlang C and A."""
    past_days = [day - timedelta(weeks=n) for n in range(1, weeks + 1)]
    by_slot, whole = await _history(db, queue, past_days, zone)
    patience = whole.average_patience
    fallback_aht = whole.average_handle_time or DEFAULT_AHT_SECONDS
    rows = []
    for start in _intervals_of(day, zone):
        slot = start.astimezone(zone).time()
        history = by_slot.get(slot, Figures())
        contacts = history.offered / weeks
        aht = history.average_handle_time or fallback_aht
        rows.append(_row(start.astimezone(zone), contacts, aht, patience, target))
    return {
        "queue": queue,
        "day": day.isoformat(),
        "weeks": [d.isoformat() for d in past_days],
        "target_service_level": target.service_level,
        "target_seconds": target.seconds,
        "patience_seconds": None if patience is None else round(patience, 1),
        "rows": rows,
        "totals": {
            "contacts": round(sum(row["contacts"] for row in rows), 1),
            "peak_agents_erlang_c": max((row["agents_erlang_c"] for row in rows), default=0),
            "peak_agents_erlang_a": max((row["agents_erlang_a"] or 0 for row in rows), default=0)
            if patience
            else None,
            "agent_hours_erlang_c": sum(row["agents_erlang_c"] for row in rows) / INTERVALS_PER_HOUR,
        },
    }


def _row(
    start: datetime, contacts: float, aht: float, patience: float | None, target: StaffingTarget
) -> dict[str, Any]:
    arrivals_per_hour = contacts * INTERVALS_PER_HOUR
    agents_c = agents_a = 0
    level = None
    if arrivals_per_hour > 0:
        result = staffing(arrivals_per_hour, aht, target.service_level, target.seconds)
        agents_c, level = result.agents, result.service_level
        if patience:
            agents_a = erlang_a_staffing(
                arrivals_per_hour, aht, patience, target.service_level, target.seconds
            ).agents
    return {
        "start": start.isoformat(),
        "contacts": round(contacts, 2),
        "aht_seconds": round(aht, 1),
        "agents_erlang_c": agents_c,
        "service_level_erlang_c": None if level is None else round(level, 4),
        "agents_erlang_a": agents_a if patience else None,
    }


async def _history(
    db: AsyncSession, queue: str, days: list[date], zone: ZoneInfo
) -> tuple[dict[time, Figures], Figures]:
    table = IntervalStat.__table__
    names = ("offered", "handled", "handle_seconds", "abandoned", "wait_abandoned_seconds")
    rows = await db.execute(
        select(table.c.interval_start, *(func.sum(table.c[name]).label(name) for name in names))
        .where(table.c.queue == queue, table.c.agent_id == ALL_AGENTS, table.c.local_day.in_(days))
        .group_by(table.c.interval_start)
    )
    by_slot: dict[time, Figures] = {}
    whole = Figures()
    for row in rows.mappings():
        figures = Figures.of(row)
        by_slot.setdefault(row["interval_start"].astimezone(zone).time(), Figures()).add(figures)
        whole.add(figures)
    return by_slot, whole


def _intervals_of(day: date, zone: ZoneInfo) -> list[datetime]:
    begin, end = day_bounds(day, day, zone)
    starts, at = [], begin
    while at < end:
        starts.append(at)
        at += INTERVAL
    return starts
