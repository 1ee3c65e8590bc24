"""Reports beside the interval figures: why customers contact us (wrap-up codes over time), complaints by
category, and the raw export of one row per conversation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.db.models import (
    Conversation,
    ReasonStat,
    SatisfactionRating,
    Ticket,
    TicketSla,
    User,
    WrapUpCode,
)
from contact_center.reports.intervals import Grain, day_bounds, week_of

CONVERSATION_COLUMNS = (
    "id",
    "started_at",
    "channel",
    "queue",
    "customer_id",
    "agent_id",
    "agent",
    "routing_state",
    "status",
    "answered_at",
    "ended_at",
    "wait_seconds",
    "handle_seconds",
    "disposition",
    "contact_reason",
    "complaint",
    "language",
    "priority",
    "satisfaction",
)


async def reasons_report(
    db: AsyncSession, first: date, last: date, grain: Grain, kind: str | None = None
) -> dict[str, Any]:
    """Contacts per disposition and contact reason, per local day or week, with each code's total."""
    table = ReasonStat.__table__
    statement = (
        select(table.c.local_day, table.c.kind, table.c.code, func.sum(table.c.contacts).label("contacts"))
        .where(table.c.local_day >= first, table.c.local_day <= last)
        .group_by(table.c.local_day, table.c.kind, table.c.code)
    )
    if kind:
        statement = statement.where(table.c.kind == kind)
    labels = {
        (row.kind, row.code): row.label
        for row in await db.execute(select(WrapUpCode.kind, WrapUpCode.code, WrapUpCode.label))
    }
    rows: dict[tuple[str, str, str], int] = {}
    totals: dict[tuple[str, str], int] = {}
    for row in (await db.execute(statement)).mappings():
        day = week_of(row["local_day"]) if grain is Grain.WEEK else row["local_day"]
        key = (day.isoformat(), row["kind"], row["code"])
        rows[key] = rows.get(key, 0) + int(row["contacts"])
        totals[(row["kind"], row["code"])] = totals.get((row["kind"], row["code"]), 0) + int(row["contacts"])
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "grain": grain.value,
        "rows": [
            {"start": start, "kind": k, "code": code, "label": labels.get((k, code), code), "contacts": count}
            for (start, k, code), count in sorted(rows.items())
            if count
        ],
        "totals": [
            {"kind": k, "code": code, "label": labels.get((k, code), code), "contacts": count}
            for (k, code), count in sorted(totals.items(), key=lambda item: (item[0][0], -item[1]))
            if count
        ],
    }


async def complaints_report(db: AsyncSession, first: date, last: date, zone: ZoneInfo) -> dict[str, Any]:
    """Tickets opened in the range, per category: opened, escalated, resolved, time to resolve, SLA kept."""
    begin, end = day_bounds(first, last, zone)
    opened_in_range = Ticket.created_at.between(begin, end - timedelta(microseconds=1))
    escalated = func.sum(_when(Ticket.tier > 1))
    resolved = func.count(Ticket.resolved_at)
    hours = func.sum(_hours_between(db, Ticket.created_at, Ticket.resolved_at))
    ticket_rows = await db.execute(
        select(Ticket.category, func.count().label("opened"), escalated, resolved, hours)
        .where(opened_in_range)
        .group_by(Ticket.category)
    )
    sla_rows = await db.execute(
        select(Ticket.category, func.count(TicketSla.met_at), func.count(TicketSla.breached_at))
        .join(TicketSla, TicketSla.ticket_id == Ticket.id)
        .where(opened_in_range)
        .group_by(Ticket.category)
    )
    sla = {category: (int(met), int(breached)) for category, met, breached in sla_rows}
    rows = []
    for category, opened, escalated_count, resolved_count, resolve_hours in ticket_rows:
        met, breached = sla.get(category, (0, 0))
        rows.append(
            {
                "category": category,
                "opened": int(opened),
                "escalated": int(escalated_count or 0),
                "escalation_rate": round(int(escalated_count or 0) / opened, 4) if opened else None,
                "resolved": int(resolved_count),
                "average_hours_to_resolve": round(float(resolve_hours) / resolved_count, 2)
                if resolved_count and resolve_hours is not None
                else None,
                "sla_met": met,
                "sla_breached": breached,
                "sla_compliance": round(met / (met + breached), 4) if met + breached else None,
            }
        )
    rows.sort(key=lambda row: (-row["opened"], row["category"]))
    return {"from": first.isoformat(), "to": last.isoformat(), "rows": rows}


async def conversation_rows(
    db: AsyncSession, first: date, last: date, zone: ZoneInfo, *, after_id: int = 0, limit: int | None = None
) -> AsyncIterator[dict[str, Any]]:
    """One row per conversation that started in the range, in id order (streamed from the database, plain
    rows rather than ORM objects: a month can be a few hundred thousand)."""
    begin, end = day_bounds(first, last, zone)
    c = Conversation.__table__.c
    statement = (
        select(
            *(c[name] for name in _CONVERSATION_FIELDS),
            User.display_name.label("agent"),
            SatisfactionRating.score.label("satisfaction"),
        )
        .select_from(Conversation.__table__)
        .outerjoin(User, User.id == c.agent_id)
        .outerjoin(SatisfactionRating, SatisfactionRating.conversation_id == c.id)
        .where(c.started_at >= begin, c.started_at < end, c.id > after_id)
        .order_by(c.id)
        .execution_options(yield_per=2000)
    )
    if limit is not None:
        statement = statement.limit(limit)
    result = await db.stream(statement)
    async for row in result.mappings():
        yield {name: _plain(row[name]) for name in CONVERSATION_COLUMNS}


_CONVERSATION_FIELDS = tuple(name for name in CONVERSATION_COLUMNS if name not in ("agent", "satisfaction"))


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _when(condition: Any) -> Any:
    return case((condition, 1), else_=0)


def _hours_between(db: AsyncSession, start: Any, end: Any) -> Any:
    if db.bind.dialect.name == "postgresql":
        return func.extract("epoch", end - start) / 3600.0
    return (func.julianday(end) - func.julianday(start)) * 24.0
