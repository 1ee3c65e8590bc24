"""Administering business-hours calendars and SLA policies (every change audited)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.db.models import BusinessCalendar, SlaPolicy, Ticket, TicketCategory
from contact_center.errors import Conflict, InvalidInput, NotFound
from contact_center.tickets.sla_schemas import CalendarIn, SlaPolicyIn
from contact_center.users import service as users

# Calendars


def calendar_json(row: BusinessCalendar) -> dict[str, Any]:
    """A calendar as the API shows it."""
    return {
        "id": row.id,
        "name": row.name,
        "timezone": row.timezone,
        "hours": row.hours,
        "holidays": row.holidays,
        "holiday_country": row.holiday_country,
        "holiday_subdivision": row.holiday_subdivision,
    }


async def list_calendars(db: AsyncSession) -> list[BusinessCalendar]:
    """Every calendar by name."""
    return list((await db.execute(select(BusinessCalendar).order_by(BusinessCalendar.name))).scalars())


async def get_calendar(db: AsyncSession, calendar_id: int) -> BusinessCalendar:
    """A calendar by id; NotFound otherwise."""
    row = await db.get(BusinessCalendar, calendar_id)
    if row is None:
        raise NotFound(f"business calendar {calendar_id} does not exist")
    return row


async def create_calendar(
    db: AsyncSession, body: CalendarIn, actor_id: int | None, now: datetime
) -> BusinessCalendar:
    """A new calendar; Conflict if the name is taken."""
    await _calendar_name_free(db, body.name, None)
    row = BusinessCalendar(**body.columns())
    db.add(row)
    await _flush_unique_name(db, body.name)
    users.audit(
        db, actor_id, "business_calendar.created", "business_calendar", row.id, calendar_json(row), now
    )
    return row


async def update_calendar(
    db: AsyncSession, calendar_id: int, body: CalendarIn, actor_id: int | None, now: datetime
) -> BusinessCalendar:
    """Replace a calendar's name, zone, hours and holidays (policies using it follow)."""
    row = await get_calendar(db, calendar_id)
    await _calendar_name_free(db, body.name, row.id)
    for name, value in body.columns().items():
        setattr(row, name, value)
    await _flush_unique_name(db, body.name)
    users.audit(
        db, actor_id, "business_calendar.updated", "business_calendar", row.id, calendar_json(row), now
    )
    return row


async def delete_calendar(db: AsyncSession, calendar_id: int, actor_id: int | None, now: datetime) -> None:
    """Delete a calendar no policy uses; Conflict naming the policies otherwise."""
    row = await get_calendar(db, calendar_id)
    stmt = select(SlaPolicy.id, SlaPolicy.name).where(SlaPolicy.calendar_id == row.id)
    using = (await db.execute(stmt.order_by(SlaPolicy.id))).all()
    if using:
        names = ", ".join(f"{name!r} (id {policy_id})" for policy_id, name in using)
        raise Conflict(
            f"business calendar {row.name!r} is used by SLA policies {names}; change them first",
            policy_ids=[policy_id for policy_id, _ in using],
        )
    await db.delete(row)
    try:
        async with db.begin_nested():
            await db.flush()
    except IntegrityError:  # a policy named it meanwhile
        raise Conflict(f"business calendar {row.name!r} is used by an SLA policy") from None
    users.audit(
        db, actor_id, "business_calendar.deleted", "business_calendar", row.id, {"name": row.name}, now
    )


async def _calendar_name_free(db: AsyncSession, name: str, own_id: int | None) -> None:
    taken = (await db.execute(select(BusinessCalendar.id).where(BusinessCalendar.name == name))).scalar()
    if taken is not None and taken != own_id:
        raise Conflict(f"a business calendar is already named {name!r}", id=taken)


async def _flush_unique_name(db: AsyncSession, name: str) -> None:
    try:
        async with db.begin_nested():
            await db.flush()
    except IntegrityError:
        raise Conflict(f"a business calendar is already named {name!r}") from None


# Policies


def policy_json(row: SlaPolicy) -> dict[str, Any]:
    """A policy as the API shows it."""
    return {
        "id": row.id,
        "name": row.name,
        "position": row.position,
        "category": row.category,
        "priority": row.priority,
        "customer_tier": row.customer_tier,
        "first_response_minutes": row.first_response_minutes,
        "next_response_minutes": row.next_response_minutes,
        "resolution_minutes": row.resolution_minutes,
        "warn_before_minutes": row.warn_before_minutes,
        "calendar_id": row.calendar_id,
        "breach_action": row.breach_action,
        "active": row.active,
    }


async def list_policies(db: AsyncSession) -> list[SlaPolicy]:
    """Every policy (inactive ones too) in the order they are tried."""
    return list((await db.execute(select(SlaPolicy).order_by(SlaPolicy.position, SlaPolicy.id))).scalars())


async def get_policy(db: AsyncSession, policy_id: int) -> SlaPolicy:
    """A policy by id; NotFound otherwise."""
    row = await db.get(SlaPolicy, policy_id)
    if row is None:
        raise NotFound(f"SLA policy {policy_id} does not exist")
    return row


async def create_policy(
    db: AsyncSession, body: SlaPolicyIn, actor_id: int | None, now: datetime
) -> SlaPolicy:
    """A new policy, tried after the others unless given a position."""
    await _check_references(db, body)
    position = body.position if body.position is not None else await _next_position(db)
    row = SlaPolicy(position=position, **body.fields())
    db.add(row)
    await db.flush()
    users.audit(db, actor_id, "sla_policy.created", "sla_policy", row.id, policy_json(row), now)
    return row


async def update_policy(
    db: AsyncSession, policy_id: int, body: SlaPolicyIn, actor_id: int | None, now: datetime
) -> SlaPolicy:
    """Replace a policy's fields (position unchanged unless given); tickets keep the policy they have."""
    row = await get_policy(db, policy_id)
    await _check_references(db, body)
    for name, value in body.fields().items():
        setattr(row, name, value)
    if body.position is not None:
        row.position = body.position
    users.audit(db, actor_id, "sla_policy.updated", "sla_policy", row.id, policy_json(row), now)
    return row


async def delete_policy(db: AsyncSession, policy_id: int, actor_id: int | None, now: datetime) -> None:
    """Delete a policy no ticket has; Conflict otherwise (deactivate it instead)."""
    row = await get_policy(db, policy_id)
    tickets = (await db.execute(select(func.count()).where(Ticket.sla_policy_id == row.id))).scalar_one()
    if tickets:
        raise Conflict(
            f"SLA policy {row.name!r} applies to {tickets} ticket(s); deactivate it (active: false) instead",
            tickets=tickets,
        )
    await db.delete(row)
    users.audit(db, actor_id, "sla_policy.deleted", "sla_policy", row.id, {"name": row.name}, now)


async def _check_references(db: AsyncSession, body: SlaPolicyIn) -> None:
    if body.category is not None:
        found = (
            await db.execute(select(TicketCategory.id).where(TicketCategory.code == body.category))
        ).scalar()
        if found is None:
            raise InvalidInput(f"category {body.category!r}: no such ticket category")
    if body.calendar_id is not None and await db.get(BusinessCalendar, body.calendar_id) is None:
        raise InvalidInput(f"calendar_id {body.calendar_id}: no such business calendar")


async def _next_position(db: AsyncSession) -> int:
    last = (await db.execute(select(func.max(SlaPolicy.position)))).scalar_one()
    return 0 if last is None else last + 1
