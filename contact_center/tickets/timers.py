"""The ticket timers: SLA warnings and breaches, auto-close of resolved tickets, reminders, and the delivery
of notifications. Durable (everything they act on is a row) and safe with several processes: each warning,
breach or reminder is claimed by a compare-and-set on its row, so exactly one process acts on it.

`run_once()` does one pass at the injected clock's time (tests drive it); `run_forever()` repeats it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.db.models import Notification, SlaPolicy, Ticket, TicketSla
from contact_center.tickets.notify import Notice, recipients, record
from contact_center.tickets.service import SYSTEM, Effects, TicketService, _tier
from contact_center.tickets.workflow import Action, ActionKind, IllegalTransition, TicketState

log = logging.getLogger(__name__)
BATCH = 200
METRIC_NAMES = {
    "first_response": "first response",
    "next_response": "next response",
    "resolution": "resolution",
}


@dataclass
class TimerPass:
    """What one pass did."""

    warned: int = 0
    breached: int = 0
    escalated: int = 0
    closed: int = 0
    reminded: int = 0
    rerouted: int = 0
    delivered: int = 0


class TicketTimers:
    """Runs the ticket timers on the service's sessions and clock."""

    def __init__(self, service: TicketService, deliver: Callable[[], Awaitable[int]] | None = None) -> None:
        self.service, self.deliver = service, deliver

    async def run_forever(self, interval: float) -> None:
        """A pass every `interval` seconds until cancelled; a failing pass is logged, the next one runs."""
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("ticket timers failed; trying again in %s s", interval)
            await asyncio.sleep(interval)

    async def run_once(self) -> TimerPass:
        """One pass at the clock's current time. A step that fails for one ticket is logged and the pass goes
        on with the others, so one bad ticket never holds up every other timer."""
        done, now = TimerPass(), self.service.clock.now()
        for clock_id, cycle in await self._due(TicketSla.warn_at, TicketSla.warned_at, now):
            done.warned += await self._guarded(self._warn(clock_id, cycle, now), "warning", clock_id) or 0
        for clock_id, cycle in await self._due(TicketSla.due_at, TicketSla.breached_at, now):
            breached, escalated = await self._guarded(
                self._breach(clock_id, cycle, now), "breach", clock_id
            ) or (0, 0)
            done.breached += breached
            done.escalated += escalated
        done.closed = await self._guarded(self._auto_close(now), "auto-close") or 0
        done.reminded = await self._guarded(self._remind(now), "reminders") or 0
        done.rerouted = await self._guarded(self.service.reroute_lost(), "re-routing") or 0
        if self.deliver is not None:
            done.delivered = await self._guarded(self.deliver(), "delivery") or 0
        return done

    @staticmethod
    async def _guarded(step: Awaitable[Any], what: str, item: object = None) -> Any:
        try:
            return await step
        except Exception:
            log.exception("ticket timers: the %s step failed%s", what, f" for clock {item}" if item else "")
            return None

    async def _due(self, instant: Any, once: Any, now: datetime) -> list[tuple[int, int]]:
        """Running clocks whose `instant` has come and that nobody has handled: (id, cycle)."""
        async with self.service.sessions() as db:
            query = (
                select(TicketSla.id, TicketSla.cycle)
                .where(*_due_now(instant, once, now))
                .order_by(TicketSla.id)
                .limit(BATCH)
            )
            return [(row.id, row.cycle) for row in await db.execute(query)]

    async def _warn(self, clock_id: int, cycle: int, now: datetime) -> int:
        async with self.service.sessions.begin() as db:
            clock = await db.get(TicketSla, clock_id)
            if clock is None or not await _claim(
                db, clock, cycle, TicketSla.warn_at, TicketSla.warned_at, now
            ):
                return 0
            ticket = await db.get(Ticket, clock.ticket_id)
            assert ticket is not None
            name = METRIC_NAMES.get(clock.metric, clock.metric)
            db.add(
                self.service._event(
                    ticket,
                    "sla_warning",
                    SYSTEM,
                    now,
                    data={
                        "metric": clock.metric,
                        "cycle": clock.cycle,
                        "due_at": clock.due_at.isoformat() if clock.due_at else None,
                    },
                )
            )
            notice = Notice(
                kind="sla_warning",
                ticket_id=ticket.id,
                title=f"Ticket T-{ticket.id}: {name} due at {_hhmm(clock.due_at)}",
                body=ticket.subject,
                key=f"sla_warning:{ticket.id}:{clock.metric}:{clock.cycle}",
            )
            await record(db, notice, await recipients(db, ticket, ["assignee", "team_lead"]), now)
        await self.service.bus.publish(
            "ticket.changed", {"ticket_id": clock.ticket_id, "action": "sla_warning"}
        )
        return 1

    async def _breach(self, clock_id: int, cycle: int, now: datetime) -> tuple[int, int]:
        async with self.service.sessions.begin() as db:
            clock = await db.get(TicketSla, clock_id)
            if clock is None:
                return 0, 0
            ticket = await self.service._locked(db, clock.ticket_id)
            if not await _claim(db, clock, cycle, TicketSla.due_at, TicketSla.breached_at, now):
                return 0, 0
            effects = Effects(ticket.id)
            name = METRIC_NAMES.get(clock.metric, clock.metric)
            db.add(
                self.service._event(
                    ticket, "sla_breached", SYSTEM, now, data={"metric": clock.metric, "cycle": clock.cycle}
                )
            )
            category = await self.service._category(db, ticket.category, existing=True)
            roles = _tier(category, ticket.tier).get("notify") or ["team_lead"]
            notice = Notice(
                kind="sla_breach",
                ticket_id=ticket.id,
                title=f"Ticket T-{ticket.id} missed its {name} target (L{ticket.tier})",
                body=ticket.subject,
                key=f"sla_breach:{ticket.id}:{clock.metric}:{clock.cycle}",
            )
            effects.notify = bool(await record(db, notice, await recipients(db, ticket, roles), now))
            escalated = 0
            policy = await db.get(SlaPolicy, ticket.sla_policy_id) if ticket.sla_policy_id else None
            if policy is None or policy.breach_action == "escalate":
                action = Action(
                    ActionKind.ESCALATE,
                    now,
                    SYSTEM,
                    f"{name} target missed",
                    f"sla:{clock.metric}:{clock.cycle}",
                )
                try:
                    await self.service._escalate(db, ticket, action, effects)
                    escalated = 1
                except IllegalTransition as refused:
                    log.info(
                        "ticket %s breached %s but is not escalated: %s", ticket.id, clock.metric, refused
                    )
            effects.events.append(("ticket.changed", {"ticket_id": ticket.id, "action": "sla_breached"}))
        await self.service._after(effects)
        return 1, escalated

    async def _auto_close(self, now: datetime) -> int:
        cutoff = now - timedelta(days=self.service.settings.ticket_auto_close_days)
        async with self.service.sessions() as db:
            query = (
                select(Ticket.id)
                .where(Ticket.status == TicketState.RESOLVED.value, Ticket.resolved_at <= cutoff)
                .order_by(Ticket.id)
                .limit(BATCH)
            )
            due = list((await db.execute(query)).scalars())
        closed = 0
        days = f"{self.service.settings.ticket_auto_close_days:g}"
        for ticket_id in due:
            try:
                await self.service.act(
                    ticket_id,
                    ActionKind.CLOSE,
                    actor_id=SYSTEM,
                    reason=f"resolved {days} days ago and not reopened",
                )
                closed += 1
            except IllegalTransition:
                pass  # another process closed it, or the customer reopened it meanwhile
        return closed

    async def _remind(self, now: datetime) -> int:
        hours = self.service.settings.ticket_pending_reminder_hours
        cutoff = now - timedelta(hours=hours)
        reminded = 0
        async with self.service.sessions.begin() as db:
            reminded_already = (
                select(Notification.id)
                .where(
                    Notification.ticket_id == Ticket.id,
                    Notification.kind == "reminder",
                    Notification.created_at >= Ticket.pending_since,
                )
                .exists()
            )
            query = (
                select(Ticket)
                .where(
                    Ticket.status == TicketState.PENDING.value,
                    Ticket.pending_since <= cutoff,
                    ~reminded_already,
                )
                .order_by(Ticket.pending_since, Ticket.id)
                .limit(BATCH)
            )
            for ticket in (await db.execute(query)).scalars():
                notice = Notice(
                    kind="reminder",
                    ticket_id=ticket.id,
                    title=f"Ticket T-{ticket.id} has waited on the customer for {hours:g} hours",
                    body=ticket.subject,
                    key=f"reminder:{ticket.id}:{_iso(ticket.pending_since)}",
                )
                if await record(db, notice, await recipients(db, ticket, ["assignee"]), now):
                    reminded += 1
        return reminded


def _due_now(instant: Any, once: Any, now: datetime) -> tuple[Any, ...]:
    """The conditions of a clock whose `instant` has come, still running, that nobody has handled."""
    return (
        instant <= now,
        once.is_(None),
        TicketSla.met_at.is_(None),
        TicketSla.running_since.is_not(None),
    )


async def _claim(
    db: AsyncSession, clock: TicketSla, cycle: int, instant: Any, once: Any, now: datetime
) -> bool:
    """Set `once` to now if the clock is still due in the round that was listed (not met, paused, restarted
    or handled by another process meanwhile): True if we did. One UPDATE, so exactly one process wins. The
    row is read again afterwards, so later changes in this transaction start from what is stored."""
    result = await db.execute(
        update(TicketSla)
        .where(TicketSla.id == clock.id, TicketSla.cycle == cycle, *_due_now(instant, once, now))
        .values({once.key: now})
        .execution_options(synchronize_session=False)
    )
    await db.refresh(clock)
    return result.rowcount == 1


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def _hhmm(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "?"
