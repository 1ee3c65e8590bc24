"""A ticket's SLA clocks: started, paused, resumed, met and restarted in business time.

Each clock is a TicketSla row counting business seconds against its target. A running clock carries the
wall-clock instants of its warning (`warn_at`) and breach (`due_at`), computed with the policy's calendar
whenever it (re)starts; the timers (contact_center.tickets.timers) only compare those with the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.db.models import BusinessCalendar as CalendarRow
from contact_center.db.models import SlaPolicy, Ticket, TicketSla
from contact_center.tickets.calendar import BusinessCalendar
from contact_center.tickets.sla_policy import SlaTargets, choose_policy, targets_of

FIRST_RESPONSE, NEXT_RESPONSE, RESOLUTION = "first_response", "next_response", "resolution"
METRICS = (FIRST_RESPONSE, NEXT_RESPONSE, RESOLUTION)


@dataclass(frozen=True)
class SlaContext:
    """The ticket's targets and the calendar they are counted in (None targets: no SLA)."""

    targets: SlaTargets | None
    calendar: BusinessCalendar

    def target(self, metric: str) -> float | None:
        """Seconds allowed for `metric`, None if the policy sets none."""
        return None if self.targets is None else getattr(self.targets, metric)

    @property
    def warn_before(self) -> float:
        return 0.0 if self.targets is None else self.targets.warn_before


async def choose_for(db: AsyncSession, ticket: Ticket) -> SlaPolicy | None:
    """The policy that applies to the ticket as it is now (category, priority, customer tier)."""
    policies = list((await db.execute(select(SlaPolicy).where(SlaPolicy.active.is_(True)))).scalars())
    return choose_policy(
        policies, category=ticket.category, priority=ticket.priority, customer_tier=ticket.customer_tier
    )


async def context_of(db: AsyncSession, ticket: Ticket) -> SlaContext:
    """The ticket's policy targets and calendar."""
    policy = await db.get(SlaPolicy, ticket.sla_policy_id) if ticket.sla_policy_id else None
    if policy is None:
        return SlaContext(None, BusinessCalendar.always())
    row = await db.get(CalendarRow, policy.calendar_id) if policy.calendar_id else None
    return SlaContext(
        targets_of(policy), BusinessCalendar.from_row(row) if row else BusinessCalendar.always()
    )


async def clocks_of(db: AsyncSession, ticket_id: int) -> dict[str, TicketSla]:
    """The ticket's clocks by metric."""
    rows = (await db.execute(select(TicketSla).where(TicketSla.ticket_id == ticket_id))).scalars()
    return {row.metric: row for row in rows}


def schedule(clock: TicketSla, sla: SlaContext) -> None:
    """Set when a running clock warns and breaches, from what is left of its target."""
    if clock.running_since is None:
        clock.due_at = clock.warn_at = None
        return
    left = max(0.0, clock.target_seconds - clock.consumed_seconds)
    clock.due_at = sla.calendar.add(clock.running_since, left)
    clock.warn_at = sla.calendar.add(clock.running_since, max(0.0, left - sla.warn_before))


async def start(
    db: AsyncSession, ticket: Ticket, sla: SlaContext, metric: str, now: datetime, *, restart: bool = False
) -> TicketSla | None:
    """Run the `metric` clock from now; `restart` begins a new round (a new tier's first response, the
    next response after the customer wrote again) with nothing consumed. None when there is no target."""
    target = sla.target(metric)
    if target is None:
        return None
    clock = (await clocks_of(db, ticket.id)).get(metric)
    if clock is None:
        clock = TicketSla(
            ticket_id=ticket.id, metric=metric, cycle=1, target_seconds=target, consumed_seconds=0
        )
        db.add(clock)
    elif restart:
        clock.cycle += 1
        clock.consumed_seconds, clock.target_seconds = 0.0, target
        clock.warned_at = clock.breached_at = clock.met_at = None
    elif clock.met_at is not None or clock.running_since is not None:
        return clock
    clock.running_since = now
    schedule(clock, sla)
    return clock


async def pause_all(db: AsyncSession, ticket_id: int, sla: SlaContext, now: datetime) -> None:
    """Stop the running clocks (waiting on the customer), keeping the business time they consumed."""
    for clock in (await clocks_of(db, ticket_id)).values():
        if clock.running_since is not None:
            clock.consumed_seconds += sla.calendar.seconds_between(clock.running_since, now)
            clock.running_since = None
            schedule(clock, sla)


async def resume_all(db: AsyncSession, ticket_id: int, sla: SlaContext, now: datetime) -> None:
    """Start again every clock that was paused and is neither met nor breached-and-done."""
    for clock in (await clocks_of(db, ticket_id)).values():
        if clock.running_since is None and clock.met_at is None:
            clock.running_since = now
            schedule(clock, sla)


async def meet(
    db: AsyncSession, ticket_id: int, metrics: tuple[str, ...], sla: SlaContext, now: datetime
) -> None:
    """The ticket did what the clocks measure (answered, resolved): they stop for good this round."""
    for metric, clock in (await clocks_of(db, ticket_id)).items():
        if metric in metrics and clock.met_at is None:
            if clock.running_since is not None:
                clock.consumed_seconds += sla.calendar.seconds_between(clock.running_since, now)
            clock.met_at, clock.running_since = now, None
            schedule(clock, sla)


async def reopen_resolution(db: AsyncSession, ticket: Ticket, sla: SlaContext, now: datetime) -> None:
    """A reopened ticket's resolution clock runs again, from the business time it had used."""
    clock = (await clocks_of(db, ticket.id)).get(RESOLUTION)
    if clock is None:
        await start(db, ticket, sla, RESOLUTION, now)
        return
    clock.met_at, clock.running_since = None, now
    schedule(clock, sla)


async def retarget(db: AsyncSession, ticket: Ticket, sla: SlaContext, now: datetime) -> None:
    """The ticket's policy changed (priority, category): the clocks not yet met take the new targets,
    keeping the business time already used; a clock the new policy does not measure is dropped unless it
    was breached (its breach stays on record)."""
    for metric, clock in (await clocks_of(db, ticket.id)).items():
        if clock.met_at is not None:
            continue
        target = sla.target(metric)
        if target is None:
            if clock.breached_at is None:
                await db.delete(clock)
            continue
        if clock.running_since is not None:
            clock.consumed_seconds += sla.calendar.seconds_between(clock.running_since, now)
            clock.running_since = now
        clock.target_seconds = target
        schedule(clock, sla)


def clock_view(clock: TicketSla, now: datetime) -> dict[str, Any]:
    """A clock as the API and the console show it (the badge counts down to `due_at`)."""
    if clock.met_at is not None:
        state = "met" if clock.breached_at is None else "met_late"
    elif clock.breached_at is not None:
        state = "breached"
    elif clock.running_since is None:
        state = "paused"
    elif clock.warn_at is not None and clock.warn_at <= now:
        state = "warning"
    else:
        state = "running"
    return {
        "metric": clock.metric,
        "cycle": clock.cycle,
        "state": state,
        "target_seconds": clock.target_seconds,
        "consumed_seconds": round(clock.consumed_seconds, 1),
        "due_at": clock.due_at.isoformat() if clock.due_at else None,
        "warn_at": clock.warn_at.isoformat() if clock.warn_at else None,
        "breached_at": clock.breached_at.isoformat() if clock.breached_at else None,
        "met_at": clock.met_at.isoformat() if clock.met_at else None,
    }
