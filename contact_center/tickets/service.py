"""TicketService: every change to a ticket, each in one transaction with its history event.

A change locks the ticket row, applies the workflow (contact_center.tickets.workflow), moves the SLA clocks,
records escalations and notifications, and writes exactly one history event per state change. What must
happen outside the database (routing the ticket to a tier's queue, sending a survey, publishing events,
delivering notifications) runs after the commit, from the `Effects` the transaction collected.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_center.clock import Clock
from contact_center.db.engine import reading
from contact_center.db.models import (
    Conversation,
    Customer,
    CustomerIdentity,
    Message,
    Team,
    Ticket,
    TicketCategory,
    TicketConversation,
    TicketEscalation,
    TicketEvent,
    User,
)
from contact_center.errors import Conflict, InvalidInput, NotFound
from contact_center.events import EventBus
from contact_center.settings import Settings
from contact_center.tickets import sla
from contact_center.tickets.notify import Notice, recipients, record
from contact_center.tickets.ports import NoOutbound, Outbound
from contact_center.tickets.routing_link import TicketRouter
from contact_center.tickets.schemas import TicketCreate, TicketUpdate
from contact_center.tickets.views import history_json
from contact_center.tickets.workflow import (
    Action,
    ActionKind,
    IllegalTransition,
    Rules,
    TicketSnapshot,
    TicketState,
    apply,
)

log = logging.getLogger(__name__)
NEW_CONTACT_GAP = timedelta(hours=1)  # a customer message this long after the last one is a new contact
SYSTEM = None  # actor of automatic changes (timers, the customer's own replies)
WAITING_FOR_SOMEONE = ("new", "escalated", "reopened")  # the states of a ticket routing may offer


@dataclass
class Effects:
    """What a committed change still has to do outside the transaction."""

    ticket_id: int
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    route: tuple[str, str | None] | None = None  # (queue, task id to replace)
    finish_task: str | None = None
    survey: bool = False
    notify: bool = False


# Linked tickets that nobody holds: of the conversation with one routing task, and which of several tasks'
# conversations have any (built once: every accepted conversation looks, and most find none).
_UNHELD_LINKED = (
    select(Ticket)
    .join(TicketConversation, TicketConversation.ticket_id == Ticket.id)
    .join(Conversation, Conversation.id == TicketConversation.conversation_id)
    .where(
        Ticket.assignee_id.is_(None),
        Ticket.task_id.is_(None),
        Ticket.status.in_((TicketState.NEW.value, TicketState.REOPENED.value)),
    )
)
_UNHELD_LINKED_TICKETS = _UNHELD_LINKED.where(Conversation.task_id == bindparam("task_id"))
_TASKS_WITH_UNHELD_LINKED = (
    _UNHELD_LINKED.with_only_columns(Conversation.task_id)
    .where(Conversation.task_id.in_(bindparam("task_ids", expanding=True)))
    .distinct()
)


class TicketService:
    """Creates tickets and carries out every action on them."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        clock: Clock,
        settings: Settings,
        router: TicketRouter | None = None,
        outbound: Outbound | None = None,
        vip_tiers: frozenset[str] = frozenset(),
    ) -> None:
        self.sessions, self.bus, self.clock, self.settings = sessions, bus, clock, settings
        self.router, self.outbound = router, outbound or NoOutbound()
        self.vip_tiers = vip_tiers
        self.rules = Rules(reopen_window=timedelta(days=settings.ticket_reopen_days))
        self.after_commit: list[Any] = []  # hooks run with each Effects (surveys, notification delivery)

    # creating ---------------------------------------------------------------------------------------

    async def create(
        self, form: TicketCreate, *, actor_id: int | None, source: str = "agent", route: bool = True
    ) -> int:
        """Open a ticket: its SLA clocks start, it is routed to its first tier unless someone holds it (or
        `route` is false: the agent who takes its live conversation will), and a critical or VIP complaint
        escalates at once."""
        now = self.clock.now()
        async with self.sessions.begin() as db:
            customer = await db.get(Customer, form.customer_id)
            if customer is None:
                raise NotFound(f"customer {form.customer_id} does not exist")
            category = await self._category(db, form.category)
            await self._check_people(db, form.assignee_id, form.team_id)
            if form.conversation_id is not None:
                await self._own_conversation(db, form.conversation_id, customer.id)
            ticket = Ticket(
                customer_id=customer.id,
                subject=form.subject,
                description=form.description,
                category=category.code,
                status=TicketState.NEW.value,
                priority=form.priority or category.default_priority,
                severity=form.severity,
                conversation_id=form.conversation_id,
                source=source,
                assignee_id=form.assignee_id,
                team_id=form.team_id,
                tier=1,
                tags=form.tags,
                custom_fields=form.custom_fields,
                escalation_causes=[],
                created_at=now,
                updated_at=now,
            )
            db.add(ticket)
            effects = await self.opened(db, ticket, actor_id=actor_id, route=route, category=category)
        await self._after(effects)
        return ticket.id

    async def opened(
        self,
        db: AsyncSession,
        ticket: Ticket,
        *,
        actor_id: int | None,
        route: bool = True,
        category: TicketCategory | None = None,
    ) -> Effects:
        """Inside the caller's transaction, for a ticket row just added (by `create`, or by a channel that
        opens one with rows of its own, such as a voicemail): its history starts, its conversation is
        linked, its SLA clocks run, and it escalates or is routed as `create` says. The caller passes the
        returned Effects to `after_commit_of` once committed."""
        now = ticket.created_at
        await db.flush()
        customer = await db.get(Customer, ticket.customer_id)
        assert customer is not None
        category = category or await self._category(db, ticket.category)
        ticket.customer_tier = customer.value_tier
        effects = Effects(ticket.id)
        db.add(self._event(ticket, "created", actor_id, now, to_state="new", data={"source": ticket.source}))
        if ticket.conversation_id is not None:
            db.add(
                TicketConversation(
                    ticket_id=ticket.id,
                    conversation_id=ticket.conversation_id,
                    linked_at=now,
                    linked_by=actor_id,
                )
            )
        policy = await sla.choose_for(db, ticket)
        ticket.sla_policy_id = policy.id if policy else None
        context = await sla.context_of(db, ticket)
        await sla.start(db, ticket, context, sla.FIRST_RESPONSE, now)
        await sla.start(db, ticket, context, sla.RESOLUTION, now)
        payload = {"ticket_id": ticket.id, "customer_id": customer.id, "source": ticket.source}
        effects.events.append(("ticket.created", payload))
        cause = self._escalate_at_once(ticket, customer)
        if cause is not None:
            try:
                action = Action(ActionKind.ESCALATE, now, SYSTEM, cause[1], cause[0])
                await self._escalate(db, ticket, action, effects)
                return effects
            except IllegalTransition as refused:  # a category with one tier: nowhere to go up to
                log.info("ticket %s not escalated at opening: %s", ticket.id, refused)
        if ticket.assignee_id is None and route:
            await self._plan_route(db, ticket, category, effects)
        return effects

    async def after_commit_of(self, effects: Effects) -> None:
        """What a committed `opened` still has to do (routing, events, notifications)."""
        await self._after(effects)

    def _escalate_at_once(self, ticket: Ticket, customer: Customer) -> tuple[str, str] | None:
        if ticket.severity == self.settings.ticket_escalate_severity:
            return "severity", f"severity {ticket.severity}"
        vip = customer.value_tier in self.vip_tiers or customer.lifecycle_stage == "vip"
        if vip and ticket.category == "complaint":
            return "vip_complaint", "a VIP customer's complaint"
        return None

    # the workflow -----------------------------------------------------------------------------------

    async def act(
        self, ticket_id: int, kind: ActionKind, *, actor_id: int | None, reason: str = ""
    ) -> dict[str, Any]:
        """Apply one workflow action (not escalation: see `escalate`); IllegalTransition says why not."""
        if kind is ActionKind.ESCALATE:
            raise InvalidInput("escalate with its own request, giving a reason")
        now = self.clock.now()
        async with self.sessions.begin() as db:
            ticket = await self._locked(db, ticket_id)
            effects = Effects(ticket.id)
            event = await self._transition(db, ticket, Action(kind, now, actor_id, reason), effects)
        await self._after(effects)
        return history_json(event)

    async def escalate(
        self,
        ticket_id: int,
        *,
        actor_id: int | None,
        reason: str,
        cause: str = "manual",
        to_tier: int | None = None,
    ) -> bool:
        """Escalate for `cause` (once per cause); False when it already was, or cannot go higher."""
        now = self.clock.now()
        async with self.sessions.begin() as db:
            ticket = await self._locked(db, ticket_id)
            effects = Effects(ticket.id)
            action = Action(ActionKind.ESCALATE, now, actor_id, reason, cause, to_tier)
            try:
                await self._escalate(db, ticket, action, effects)
            except IllegalTransition as refused:
                if actor_id is not None:  # a person asked: tell them why not
                    raise
                log.info("ticket %s not escalated for %s: %s", ticket_id, cause, refused)
                return False
        await self._after(effects)
        return True

    async def _transition(
        self, db: AsyncSession, ticket: Ticket, action: Action, effects: Effects, rules: Rules | None = None
    ) -> TicketEvent:
        before = TicketState(ticket.status)
        change = apply(_snapshot(ticket), action, rules or self.rules)
        after = change.ticket
        ticket.status, ticket.tier = after.state.value, after.tier
        ticket.escalation_causes = sorted(after.escalation_causes)
        ticket.resolved_at, ticket.pending_since = after.resolved_at, after.pending_since
        ticket.updated_at = action.at
        event = self._event(
            ticket,
            action.kind.value,
            action.actor_id,
            action.at,
            from_state=before.value,
            to_state=after.state.value,
            reason=action.reason,
            data=change.event.data,
        )
        db.add(event)
        await self._clocks_follow(db, ticket, action, before, effects)
        effects.events.append(
            (
                "ticket.changed",
                {
                    "ticket_id": ticket.id,
                    "action": action.kind.value,
                    "from": before.value,
                    "to": after.state.value,
                },
            )
        )
        return event

    async def _clocks_follow(
        self, db: AsyncSession, ticket: Ticket, action: Action, before: TicketState, effects: Effects
    ) -> None:
        """Move the SLA clocks and the routing task with the ticket's new state."""
        context = await sla.context_of(db, ticket)
        state, now = TicketState(ticket.status), action.at
        if state is TicketState.PENDING and before is not TicketState.PENDING:
            await sla.pause_all(db, ticket.id, context, now)
        elif before is TicketState.PENDING and state is not TicketState.PENDING:
            await sla.resume_all(db, ticket.id, context, now)
        if state is TicketState.RESOLVED:
            await sla.meet(db, ticket.id, sla.METRICS, context, now)
            effects.survey = True
        elif state is TicketState.CLOSED:
            ticket.closed_at = now
            await sla.meet(db, ticket.id, sla.METRICS, context, now)
        elif state is TicketState.REOPENED:
            ticket.reopened_count += 1
            await sla.reopen_resolution(db, ticket, context, now)
            await sla.start(db, ticket, context, sla.NEXT_RESPONSE, now, restart=True)
        if state in (TicketState.RESOLVED, TicketState.CLOSED, TicketState.PENDING) and ticket.task_id:
            effects.finish_task = ticket.task_id

    async def _escalate(self, db: AsyncSession, ticket: Ticket, action: Action, effects: Effects) -> None:
        from_tier = ticket.tier
        category = await self._category(db, ticket.category, existing=True)
        rules = Rules(self.rules.reopen_window, max_tier=len(category.tiers or []) or 3)
        event = await self._transition(db, ticket, action, effects, rules)
        cause = event.data["cause"]
        db.add(
            TicketEscalation(
                ticket_id=ticket.id,
                cause=cause,
                from_tier=from_tier,
                to_tier=ticket.tier,
                at=action.at,
                actor_id=action.actor_id,
                reason=action.reason,
            )
        )
        tier = _tier(category, ticket.tier)
        told = await recipients(db, ticket, tier.get("notify") or ["team_lead", "supervisors"])
        previous = ticket.assignee_id
        ticket.assignee_id = None  # whoever takes the routed task at the new tier becomes the assignee
        context = await sla.context_of(db, ticket)
        if TicketState(ticket.status) is not TicketState.PENDING:
            await sla.start(db, ticket, context, sla.FIRST_RESPONSE, action.at, restart=True)
        await self._plan_route(db, ticket, category, effects)
        notice = Notice(
            kind="escalated",
            ticket_id=ticket.id,
            title=f"Ticket T-{ticket.id} escalated to L{ticket.tier} ({tier.get('name', '')})",
            body=f"{ticket.subject}\nCause: {cause}. {action.reason}".strip(),
            key=f"escalated:{ticket.id}:{cause}",
        )
        if await record(db, notice, told, action.at):
            effects.notify = True
        effects.events.append(
            (
                "ticket.escalated",
                {"ticket_id": ticket.id, "tier": ticket.tier, "cause": cause, "previous_assignee": previous},
            )
        )

    # notes, replies, fields, links -----------------------------------------------------------------

    async def note(self, ticket_id: int, actor_id: int, text: str) -> dict[str, Any]:
        """An internal note in the history (never sent to the customer)."""
        now = self.clock.now()
        async with self.sessions.begin() as db:
            ticket = await self._locked(db, ticket_id)
            event = self._event(ticket, "note", actor_id, now, body=text)
            db.add(event)
            ticket.updated_at = now
            await db.flush()
        await self.bus.publish("ticket.changed", {"ticket_id": ticket_id, "action": "note"})
        return history_json(event)

    async def reply(
        self, ticket_id: int, actor_id: int, text: str, subject: str | None = None
    ) -> dict[str, Any]:
        """A public reply through the customer's channel (the ticket's latest linked conversation that
        can take one); it meets the first- and next-response clocks and starts a new ticket's work."""
        async with self.sessions() as db:
            ticket = await db.get(Ticket, ticket_id)
            if ticket is None:
                raise NotFound(f"ticket {ticket_id} does not exist")
            if ticket.status == TicketState.CLOSED.value:
                raise Conflict("the ticket is closed: a new message to the customer needs a new ticket")
            conversation_id = await self._reply_conversation(db, ticket)
            started: TicketEvent | None = None
            if conversation_id is None:
                started = await self._start_email(db, ticket, actor_id)
                conversation_id = started.data["conversation_id"]
                await db.commit()
        try:
            message_id = await self.outbound.reply(conversation_id, actor_id, text, subject)
        except Exception:
            if started is not None:  # nothing went: the conversation started for it goes too
                await self._forget_started(started)
            raise
        if started is not None:
            linked = {"ticket_id": ticket_id, "action": "conversation_linked"}
            await self.bus.publish("ticket.changed", linked)
        now = self.clock.now()
        async with self.sessions.begin() as db:
            ticket = await self._locked(db, ticket_id)
            effects = Effects(ticket.id)
            event = self._event(
                ticket,
                "reply",
                actor_id,
                now,
                body=text,
                message_id=message_id,
                data={"conversation_id": conversation_id},
            )
            db.add(event)
            await self._responded(db, ticket, now, actor_id, effects)
            await db.flush()
        await self._after(effects)
        return history_json(event)

    async def agent_replied(self, conversation_id: int, author_id: int | None) -> None:
        """An agent answered in a conversation linked to live tickets: their response clocks are met."""
        now = self.clock.now()
        for ticket_id in await self._linked_tickets(conversation_id):
            async with self.sessions.begin() as db:
                ticket = await self._locked(db, ticket_id)
                if ticket.status in (TicketState.RESOLVED.value, TicketState.CLOSED.value):
                    continue
                effects = Effects(ticket.id)
                await self._responded(db, ticket, now, author_id, effects)
            await self._after(effects)

    async def _responded(
        self, db: AsyncSession, ticket: Ticket, now: datetime, actor_id: int | None, effects: Effects
    ) -> None:
        ticket.first_responded_at = ticket.first_responded_at or now
        ticket.updated_at = now
        context = await sla.context_of(db, ticket)
        await sla.meet(db, ticket.id, (sla.FIRST_RESPONSE, sla.NEXT_RESPONSE), context, now)
        if ticket.status in (TicketState.NEW.value, TicketState.REOPENED.value):
            await self._transition(db, ticket, Action(ActionKind.START, now, actor_id), effects)

    async def customer_wrote(self, conversation_id: int, message_id: int | None) -> None:
        """The customer wrote in a conversation linked to tickets: a pending ticket resumes, a resolved one
        reopens within the window, the next-response clock starts, and repeated contacts escalate."""
        linked = await self._linked_tickets(conversation_id, include_resolved=True)
        if not linked:
            return  # most messages: no ticket to move
        now = self.clock.now()
        written = await self._written_at(message_id)
        for ticket_id in linked:
            async with self.sessions.begin() as db:
                ticket = await self._locked(db, ticket_id)
                if written is not None and written <= ticket.created_at:
                    continue  # the message the ticket was opened from
                effects = Effects(ticket.id)
                new_contact = await self._is_new_contact(db, ticket.id, now)
                action = Action(ActionKind.CUSTOMER_REPLIED, now, SYSTEM, "the customer wrote")
                try:
                    event = await self._transition(db, ticket, action, effects)
                except IllegalTransition:
                    continue  # closed, or resolved too long ago: the conversation goes on without it
                event.data = {
                    **event.data,
                    "conversation_id": conversation_id,
                    "message_id": message_id,
                    "new_contact": new_contact,
                }
                context = await sla.context_of(db, ticket)
                waiting = (await sla.clocks_of(db, ticket.id)).get(sla.NEXT_RESPONSE)
                # a new round only once the last one was answered: more messages do not move the deadline
                answered = waiting is None or waiting.met_at is not None
                if ticket.status != TicketState.REOPENED.value and answered:
                    await sla.start(db, ticket, context, sla.NEXT_RESPONSE, now, restart=waiting is not None)
                if new_contact and await self._repeated(db, ticket.id, now):
                    action = Action(
                        ActionKind.ESCALATE,
                        now,
                        SYSTEM,
                        f"{self.settings.ticket_repeat_contacts} contacts in "
                        f"{self.settings.ticket_repeat_days:g} days",
                        "repeat_contact",
                    )
                    try:
                        await self._escalate(db, ticket, action, effects)
                    except IllegalTransition:
                        pass  # already escalated for it, or at the top
            await self._after(effects)

    async def _written_at(self, message_id: int | None) -> datetime | None:
        if message_id is None:
            return None
        async with reading(self.sessions) as db:
            return (
                await db.execute(select(Message.created_at).where(Message.id == message_id))
            ).scalar_one_or_none()

    async def _is_new_contact(self, db: AsyncSession, ticket_id: int, now: datetime) -> bool:
        last = (
            await db.execute(
                select(func.max(TicketEvent.at)).where(
                    TicketEvent.ticket_id == ticket_id,
                    TicketEvent.action.in_(("customer_replied", "created")),
                )
            )
        ).scalar_one_or_none()
        return last is None or now - last >= NEW_CONTACT_GAP

    async def _repeated(self, db: AsyncSession, ticket_id: int, now: datetime) -> bool:
        since = now - timedelta(days=self.settings.ticket_repeat_days)
        events = (
            await db.execute(
                select(TicketEvent.data).where(
                    TicketEvent.ticket_id == ticket_id,
                    TicketEvent.action == "customer_replied",
                    TicketEvent.at >= since,
                )
            )
        ).scalars()
        contacts = 1 + sum(1 for data in events if data.get("new_contact"))  # the contact that opened it
        return contacts >= self.settings.ticket_repeat_contacts

    async def update(self, ticket_id: int, actor_id: int, changes: TicketUpdate) -> dict[str, Any]:
        """Change fields; one history event lists each change as [before, after]."""
        now = self.clock.now()
        given = changes.model_dump(exclude_unset=True)
        async with self.sessions.begin() as db:
            ticket = await self._locked(db, ticket_id)
            if "category" in given:
                given["category"] = (await self._category(db, given["category"])).code
            await self._check_people(db, given.get("assignee_id"), given.get("team_id"))
            diff = {k: [getattr(ticket, k), v] for k, v in given.items() if getattr(ticket, k) != v}
            effects = Effects(ticket.id)
            if not diff:
                return {"changed": {}}
            for key, (_, value) in diff.items():
                setattr(ticket, key, value)
            ticket.updated_at = now
            db.add(self._event(ticket, "updated", actor_id, now, data={"changes": diff}))
            if {"category", "priority"} & diff.keys():
                policy = await sla.choose_for(db, ticket)
                ticket.sla_policy_id = policy.id if policy else None
                await sla.retarget(db, ticket, await sla.context_of(db, ticket), now)
            if "assignee_id" in diff and ticket.task_id:
                effects.finish_task = ticket.task_id  # the routing task's offer or hold ends with the change
            if "assignee_id" in diff and ticket.assignee_id is not None and ticket.assignee_id != actor_id:
                assignee = await db.get(User, ticket.assignee_id)
                notice = Notice(
                    "assigned",
                    ticket.id,
                    f"Ticket T-{ticket.id} is yours",
                    ticket.subject,
                    f"assigned:{ticket.id}:{ticket.assignee_id}:{now.isoformat()}",
                )
                effects.notify = bool(await record(db, notice, [assignee] if assignee else [], now))
            if diff.get("severity", [None, None])[1] == self.settings.ticket_escalate_severity:
                try:
                    await self._escalate(
                        db,
                        ticket,
                        Action(ActionKind.ESCALATE, now, actor_id, f"severity {ticket.severity}", "severity"),
                        effects,
                    )
                except IllegalTransition:
                    pass
            effects.events.append(("ticket.changed", {"ticket_id": ticket.id, "action": "updated"}))
        await self._after(effects)
        return {"changed": {k: v for k, v in diff.items()}}

    async def link(self, ticket_id: int, conversation_id: int, actor_id: int | None) -> bool:
        """Link one of the customer's conversations to the ticket (again: nothing happens)."""
        now = self.clock.now()
        async with self.sessions.begin() as db:
            ticket = await self._locked(db, ticket_id)
            await self._own_conversation(db, conversation_id, ticket.customer_id)
            if await db.get(TicketConversation, (ticket_id, conversation_id)) is not None:
                return False
            db.add(
                TicketConversation(
                    ticket_id=ticket_id, conversation_id=conversation_id, linked_at=now, linked_by=actor_id
                )
            )
            db.add(
                self._event(
                    ticket, "conversation_linked", actor_id, now, data={"conversation_id": conversation_id}
                )
            )
        await self.bus.publish("ticket.changed", {"ticket_id": ticket_id, "action": "conversation_linked"})
        return True

    async def task_accepted(self, task_id: str, agent_id: int) -> None:
        """An agent accepted the ticket's routing task: they are its assignee, and its work starts."""
        now = self.clock.now()
        async with self.sessions.begin() as db:
            ticket = (
                await db.execute(select(Ticket).where(Ticket.task_id == task_id).with_for_update())
            ).scalar_one_or_none()
            if ticket is None or ticket.assignee_id == agent_id:
                return
            effects = Effects(ticket.id)
            ticket.assignee_id, ticket.updated_at = agent_id, now
            db.add(
                self._event(ticket, "assigned", agent_id, now, data={"task_id": task_id, "tier": ticket.tier})
            )
            if ticket.status in (TicketState.NEW.value, TicketState.REOPENED.value):
                await self._transition(db, ticket, Action(ActionKind.START, now, agent_id), effects)
            effects.events.append(("ticket.changed", {"ticket_id": ticket.id, "action": "assigned"}))
        await self._after(effects)

    async def conversations_accepted(self, accepted: list[tuple[str, int]]) -> None:
        """Agents took conversations (routing task id, agent id): the linked tickets that nobody holds become
        theirs. One read for all of them; most have none, and take no write transaction."""
        task_ids = [task_id for task_id, _ in accepted]
        async with reading(self.sessions) as db:
            linked = set((await db.execute(_TASKS_WITH_UNHELD_LINKED, {"task_ids": task_ids})).scalars())
        for task_id, agent_id in accepted:
            if task_id in linked:
                await self._take_linked_tickets(task_id, agent_id)

    async def _take_linked_tickets(self, conversation_task_id: str, agent_id: int) -> None:
        now = self.clock.now()
        async with self.sessions.begin() as db:
            key = {"task_id": conversation_task_id}
            tickets = list((await db.execute(_UNHELD_LINKED_TICKETS.with_for_update(), key)).scalars())
            for ticket in tickets:
                ticket.assignee_id, ticket.updated_at = agent_id, now
                data = {"conversation_task_id": conversation_task_id, "tier": ticket.tier}
                db.add(self._event(ticket, "assigned", agent_id, now, data=data))
        for ticket in tickets:
            await self.bus.publish("ticket.changed", {"ticket_id": ticket.id, "action": "assigned"})

    async def reroute_lost(self, grace: timedelta = timedelta(seconds=10)) -> int:
        """Queue again the tickets waiting for someone whose routing task the engine does not know (the
        process died between commit and routing, or an embedded store restarted empty)."""
        if self.router is None:
            return 0
        cutoff = self.clock.now() - grace
        async with self.sessions() as db:
            query = select(Ticket.id, Ticket.task_id).where(
                Ticket.assignee_id.is_(None),
                Ticket.task_id.is_not(None),
                Ticket.status.in_(
                    (TicketState.NEW.value, TicketState.ESCALATED.value, TicketState.REOPENED.value)
                ),
                Ticket.updated_at < cutoff,
            )
            waiting = (await db.execute(query.order_by(Ticket.updated_at, Ticket.id).limit(200))).all()
        lost = [row.id for row in waiting if not await self.router.knows(row.task_id)]
        for ticket_id in lost:
            async with self.sessions.begin() as db:
                ticket = await self._locked(db, ticket_id)
                if ticket.assignee_id is not None or ticket.status not in WAITING_FOR_SOMEONE:
                    continue  # taken or finished since it was listed
                effects = Effects(ticket.id)
                category = await self._category(db, ticket.category, existing=True)
                await self._plan_route(db, ticket, category, effects)
            await self._after(effects)
        return len(lost)

    # helpers ----------------------------------------------------------------------------------------

    async def _after(self, effects: Effects) -> None:
        if self.router is not None:
            try:
                if effects.finish_task and effects.route is None:
                    await self.router.finish(effects.finish_task)
                if effects.route is not None:
                    await self.router.submit(effects.ticket_id, *effects.route)
            except Exception:
                log.exception("routing ticket %s failed; the timers route it again", effects.ticket_id)
        for hook in self.after_commit:
            try:
                await hook(effects)
            except Exception:
                log.exception("after-commit hook failed for ticket %s", effects.ticket_id)
        for topic, payload in effects.events:
            await self.bus.publish(topic, payload)

    async def _plan_route(
        self, db: AsyncSession, ticket: Ticket, category: TicketCategory, effects: Effects
    ) -> None:
        """Give the ticket the task id and queue of its tier (sent to routing after the commit)."""
        if self.router is None:
            return
        queue = _tier(category, ticket.tier).get("queue") or None
        previous = ticket.task_id
        task_id, queue_name = await self.router.claim(ticket, queue, previous)
        ticket.task_id, ticket.queue = task_id, queue_name
        effects.route = (queue_name, previous)

    async def _locked(self, db: AsyncSession, ticket_id: int) -> Ticket:
        ticket = (
            await db.execute(select(Ticket).where(Ticket.id == ticket_id).with_for_update())
        ).scalar_one_or_none()
        if ticket is None:
            raise NotFound(f"ticket {ticket_id} does not exist")
        return ticket

    async def _category(self, db: AsyncSession, code: str, *, existing: bool = False) -> TicketCategory:
        """The category by code; a deactivated one only for tickets that have it already (`existing`)."""
        row = (
            await db.execute(select(TicketCategory).where(TicketCategory.code == code))
        ).scalar_one_or_none()
        if row is None or not (row.active or existing):
            raise InvalidInput(f"there is no ticket category {code!r}")
        return row

    async def _check_people(self, db: AsyncSession, assignee_id: int | None, team_id: int | None) -> None:
        if assignee_id is not None:
            user = await db.get(User, assignee_id)
            if user is None or not user.is_active:
                raise InvalidInput(f"there is no active user {assignee_id}")
        if team_id is not None and await db.get(Team, team_id) is None:
            raise InvalidInput(f"there is no team {team_id}")

    async def _own_conversation(self, db: AsyncSession, conversation_id: int, customer_id: int) -> None:
        conversation = await db.get(Conversation, conversation_id)
        if conversation is None:
            raise NotFound(f"conversation {conversation_id} does not exist")
        if conversation.customer_id != customer_id:
            raise InvalidInput("the conversation belongs to another customer")

    async def _linked_tickets(self, conversation_id: int, *, include_resolved: bool = False) -> list[int]:
        states = [s.value for s in TicketState if s is not TicketState.CLOSED]
        if not include_resolved:
            states.remove(TicketState.RESOLVED.value)
        async with reading(self.sessions) as db:
            query = (
                select(Ticket.id)
                .join(TicketConversation, TicketConversation.ticket_id == Ticket.id)
                .where(TicketConversation.conversation_id == conversation_id, Ticket.status.in_(states))
                .order_by(Ticket.id)
            )
            return list((await db.execute(query)).scalars())

    async def _reply_conversation(self, db: AsyncSession, ticket: Ticket) -> int | None:
        """The ticket's latest linked conversation that can take a written reply now, if any."""
        query = (
            select(Conversation.id)
            .join(TicketConversation, TicketConversation.conversation_id == Conversation.id)
            .where(TicketConversation.ticket_id == ticket.id, writable_conversation())
            .order_by(Conversation.last_activity_at.desc())
            .limit(1)
        )
        return (await db.execute(query)).scalar_one_or_none()

    async def _start_email(self, db: AsyncSession, ticket: Ticket, actor_id: int) -> TicketEvent:
        """A new email conversation with the customer, linked to the ticket, for a reply that none of its
        conversations can carry (a call; a chat the customer left, as after the offline form's "we will
        answer by email"); its history line. Conflict when the customer has no email address."""
        address = await db.scalar(
            select(CustomerIdentity.id)
            .where(CustomerIdentity.customer_id == ticket.customer_id, CustomerIdentity.kind == "email")
            .limit(1)
        )
        if address is None:
            raise Conflict(
                "the ticket has no written conversation that can take a reply now (calls and chats the "
                "customer has left cannot) and the customer has no email address: link an email or SMS "
                "conversation of the customer first, or add their email address"
            )
        now = self.clock.now()
        conversation = Conversation(
            customer_id=ticket.customer_id,
            channel="email",
            status="open",
            subject=ticket.subject[:300],
            started_at=now,
            last_activity_at=now,
        )
        db.add(conversation)
        await db.flush()
        db.add(
            TicketConversation(
                ticket_id=ticket.id, conversation_id=conversation.id, linked_at=now, linked_by=actor_id
            )
        )
        data = {"conversation_id": conversation.id, "started_for": "reply"}
        event = self._event(ticket, "conversation_linked", actor_id, now, data=data)
        db.add(event)
        await db.flush()
        return event

    async def _forget_started(self, started: TicketEvent) -> None:
        """Undo _start_email when its reply could not go: the link, its history line and the conversation."""
        conversation_id = started.data["conversation_id"]
        async with self.sessions.begin() as db:
            await db.execute(
                delete(TicketConversation).where(
                    TicketConversation.ticket_id == started.ticket_id,
                    TicketConversation.conversation_id == conversation_id,
                )
            )
            await db.execute(delete(TicketEvent).where(TicketEvent.id == started.id))
            await db.execute(delete(Conversation).where(Conversation.id == conversation_id))

    @staticmethod
    def _event(
        ticket: Ticket,
        action: str,
        actor_id: int | None,
        at: datetime,
        *,
        from_state: str | None = None,
        to_state: str | None = None,
        reason: str = "",
        body: str = "",
        message_id: int | None = None,
        data: dict[str, Any] | None = None,
    ) -> TicketEvent:
        return TicketEvent(
            ticket_id=ticket.id,
            at=at,
            actor_id=actor_id,
            action=action,
            from_state=from_state,
            to_state=to_state,
            reason=reason,
            body=body,
            message_id=message_id,
            data=dict(data or {}),
        )


def writable_conversation() -> Any:
    """A conversation that can carry a written message now: not a call, and not a chat the customer left."""
    return and_(
        Conversation.channel != "voice", or_(Conversation.channel != "chat", Conversation.status == "open")
    )


def _snapshot(ticket: Ticket) -> TicketSnapshot:
    return TicketSnapshot(
        state=TicketState(ticket.status),
        tier=ticket.tier,
        resolved_at=ticket.resolved_at,
        escalation_causes=frozenset(ticket.escalation_causes or []),
        pending_since=ticket.pending_since,
    )


def _tier(category: TicketCategory, tier: int) -> dict[str, Any]:
    """The category's settings for `tier` (the highest defined if it has fewer)."""
    tiers = sorted(category.tiers or [], key=lambda t: t.get("tier", 0))
    chosen = [t for t in tiers if t.get("tier", 0) <= tier]
    return chosen[-1] if chosen else {"tier": tier, "name": f"L{tier}"}


def new_task_id(ticket_id: int) -> str:
    """A routing task id for the ticket (tickets' tasks start with "ticket")."""
    return f"ticket{ticket_id}-{uuid.uuid4().hex[:10]}"
