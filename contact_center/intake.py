"""Intake: what every channel calls with an InboundContact.

It resolves the customer (creating one for a first contact), threads the conversation, stores the message
(idempotent on the channel's message id, so a retried webhook changes nothing), classifies it (language,
complaint, VIP) and queues a routing task. The contact is committed before routing is asked, so nothing is
lost if routing fails: the conversation stays "pending" and the routing service queues it later.

A message that makes its conversation a complaint (the channel's flag, such as the IVR's complaint option, or
the complaint classifier) publishes "conversation.complaint" once the message is committed: once per
conversation, whether or not the message is routed now, and never for a retried webhook.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_center.classify import ComplaintClassifier
from contact_center.customers import records, resolve
from contact_center.customers.context import CustomerContext
from contact_center.customers.identity import Identity, normalise
from contact_center.customers.schemas import CustomerIn, IdentityIn
from contact_center.db.models import Conversation, Customer, Message
from contact_center.errors import Conflict, InvalidInput
from contact_center.events import EventBus
from contact_center.routing_service.service import DEFAULT_QUEUE, RoutingService
from routing.policies import priority_for

SNIPPET = 280
REOPEN_WINDOW = {"sms": timedelta(hours=24), "chat": timedelta(hours=2), "email": timedelta(days=7)}
CHANNELS = ("voice", "sms", "email", "chat")


OnStored = Callable[[AsyncSession, Conversation, Customer], Awaitable[None]]


@dataclass(frozen=True)
class InboundContact:
    """A contact as a channel adapter hands it over: who, what, and the channel's own id for it."""

    channel: str
    identities: list[tuple[str, str]]
    external_id: str | None = None
    name: str | None = None
    text: str = ""
    subject: str | None = None
    queue: str | None = None
    language: str | None = None
    complaint: bool = False
    # Who set `complaint`: "ivr" (the caller chose the IVR's complaint option) or "channel" (any other flag).
    complaint_source: str = "channel"
    skills: dict[str, int] = field(default_factory=dict)
    conversation_id: int | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    route: bool = True
    # The channel proved `conversation_id` (a signed reference), so whoever writes may join that conversation.
    conversation_verified: bool = False
    media: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class IntakeResult:
    """Where the contact landed."""

    customer_id: int
    conversation_id: int
    message_id: int
    new_customer: bool
    new_conversation: bool
    duplicate: bool
    task_id: str | None
    priority: int = 0
    complaint: bool = False


@dataclass(frozen=True)
class NewComplaint:
    """Why this message made its conversation a complaint: the source ("ivr", "channel" or "classifier")."""

    source: str
    reason: str


@dataclass(frozen=True)
class RoutingHints:
    """What routing needs beyond the stored result: the language, the customer's last agent, the queue."""

    language: str | None
    preferred_agent: int | None
    queue: str


# What storing one contact gives: the result, routing hints when it still has to be routed, and why it made
# its conversation a complaint, if it did.
_Stored = tuple[IntakeResult, RoutingHints | None, NewComplaint | None]

# The message a channel id already stored (built once: every contact with an id looks, and most find none).
_STORED_MESSAGE = select(Message.id, Message.conversation_id).where(
    Message.channel == bindparam("channel"), Message.external_id == bindparam("external_id")
)


class Intake:
    """Turns inbound contacts into stored conversations and routing tasks."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        ctx: CustomerContext,
        routing: RoutingService,
        bus: EventBus,
        vip_tiers: frozenset[str],
        complaints: ComplaintClassifier,
    ) -> None:
        self.sessions, self.ctx, self.routing, self.bus, self.vip_tiers = (
            sessions,
            ctx,
            routing,
            bus,
            vip_tiers,
        )
        self.complaints = complaints

    async def receive(self, contact: InboundContact, *, on_stored: OnStored | None = None) -> IntakeResult:
        """Store the contact, then route it; the same external id twice gives the first result.

        `on_stored` lets a channel keep its own rows (a call, say) in the same transaction as the message;
        it is not called for a duplicate.
        """
        _check_channel(contact)
        try:
            stored = await self._store(contact, on_stored)
        except (IntegrityError, Conflict):
            # A concurrent request stored the same message, or created this new customer first (their
            # identity is taken): the second attempt finds what the other one stored.
            stored = await self._store(contact, on_stored)
        return await self._announce_and_route(contact, stored)

    async def receive_many(self, contacts: list[InboundContact]) -> list[IntakeResult]:
        """Store several contacts in one transaction, one after another (each sees the ones before it, as
        if they had come alone), then announce and route them in order: a burst costs one transaction instead
        of one per contact. If the transaction fails, nothing of it is kept and the error is raised: the
        caller receives the contacts one by one instead (a race with another process, or one bad contact,
        then costs only itself). One contact is received as `receive` does."""
        if len(contacts) == 1:
            return [await self.receive(contacts[0])]
        for contact in contacts:
            _check_channel(contact)
        async with self.sessions.begin() as db:
            stored = zip(contacts, await self._store_run(db, contacts), strict=True)
        return [await self._announce_and_route(contact, each) for contact, each in stored]

    async def _announce_and_route(self, contact: InboundContact, stored: _Stored) -> IntakeResult:
        """After the commit: the message and complaint events, and the routing task if one was claimed."""
        result, hints, complaint = stored
        if not result.duplicate:
            await self.bus.publish(
                "message.received",
                {
                    "channel": contact.channel,
                    "conversation_id": result.conversation_id,
                    "message_id": result.message_id,
                    "survey_answer": bool(contact.attributes.get("survey_answer")),
                    # a conversation opened by this message has no agent, ticket or watcher yet
                    "new_conversation": result.new_conversation,
                },
            )
        if complaint is not None:
            await self.bus.publish(
                "conversation.complaint",
                {
                    "conversation_id": result.conversation_id,
                    "customer_id": result.customer_id,
                    "channel": contact.channel,
                    "source": complaint.source,
                    "reason": complaint.reason,
                },
            )
        if hints is None or not contact.route:
            return result
        conversation_id, task_id = result.conversation_id, result.task_id
        assert task_id is not None  # claimed in the same transaction as the message
        await self.routing.submit(
            conversation_id,
            task_id,
            channel=contact.channel,
            queue=hints.queue,
            priority=result.priority,
            language=hints.language,
            skills=contact.skills,
            preferred_agent=hints.preferred_agent,
            attributes={"customer_id": result.customer_id, "complaint": result.complaint},
        )
        await self.bus.publish(
            "contact.received",
            {
                "channel": contact.channel,
                "customer_id": result.customer_id,
                "conversation_id": conversation_id,
                "task_id": task_id,
                "complaint": result.complaint,
                "priority": result.priority,
            },
        )
        return result

    async def _store(self, contact: InboundContact, on_stored: OnStored | None) -> _Stored:
        async with self.sessions.begin() as db:
            return await self._store_in(db, contact, on_stored)

    async def _store_in(
        self, db: AsyncSession, contact: InboundContact, on_stored: OnStored | None
    ) -> _Stored:
        """Store the message in the caller's transaction; routing hints when its conversation still has to be
        routed, else None; and why the message made the conversation a complaint, if it did."""
        now = self.ctx.clock.now()
        duplicate = await self._already_stored(db, contact)
        if duplicate is not None:
            return duplicate, None, None
        customer, new_customer = await self._customer(db, contact)
        conversation, new_conversation = await self._conversation(db, contact, customer.id, new_customer, now)
        message = _new_message(contact, conversation.id, now)
        db.add(message)
        complaint = None if conversation.complaint else self._complaint(contact, customer)
        if complaint is not None and new_conversation:
            conversation.complaint = True  # nobody else sees it before this transaction commits
        elif complaint is not None and not await self._mark_complaint(db, conversation):
            complaint = None  # a concurrent message made it a complaint first, and says so
        active = _touch(contact, conversation, now)
        await db.flush()
        if on_stored is not None:
            await on_stored(db, conversation, customer)
        landed = _Landed(contact, customer, conversation, message, new_customer, new_conversation, active)
        return await self._claimed(db, landed, complaint)

    async def _store_run(self, db: AsyncSession, contacts: list[InboundContact]) -> list[_Stored]:
        """Store a run of contacts in the caller's transaction. The first contacts of new customers (most of a
        burst) are written together, a few statements for all of them; the others one by one after them, so
        that a customer's later messages in the run find what the first one created."""
        firsts = await self._first_contacts(db, contacts)
        stored = dict(zip(firsts, await self._store_firsts(db, [contacts[i] for i in firsts]), strict=True))
        return [
            stored[index] if index in stored else await self._store_in(db, contact, None)
            for index, contact in enumerate(contacts)
        ]

    async def _first_contacts(self, db: AsyncSession, contacts: list[InboundContact]) -> list[int]:
        """Which contacts of a run open a new customer: identities that no customer owns and that no other
        contact of the run gave before, a channel id not stored yet, no conversation named."""
        identities = [_usable_identities(self.ctx, contact) for contact in contacts]
        keys = [{(i.kind.value, i.value) for i in each} for each in identities]
        given: set[tuple[str, str]] = set()
        firsts = []
        for index, (contact, own) in enumerate(zip(contacts, keys, strict=True)):
            if own and not own & given and contact.external_id and contact.conversation_id is None:
                firsts.append(index)
            given |= own
        if not firsts:
            return []
        owners = await resolve.owners_of(db, [each for index in firsts for each in identities[index]])
        owned = {(i.kind.value, i.value) for found in owners.values() for i in found}
        ids = [(contacts[index].channel, contacts[index].external_id or "") for index in firsts]
        stored = await _stored_ids(db, ids)
        fresh = zip(firsts, ids, strict=True)
        return [index for index, id_ in fresh if not keys[index] & owned and id_ not in stored]

    async def _store_firsts(self, db: AsyncSession, contacts: list[InboundContact]) -> list[_Stored]:
        """First contacts of new customers, together: one INSERT per table for all their customers,
        identities, conversations and messages, and one UPDATE for the claimed tasks (at the commit)."""
        if not contacts:
            return []
        now = self.ctx.clock.now()
        new_customers = [self._new_customer(contact) for contact in contacts]
        customers = await records.create_customers(db, self.ctx, new_customers, identities_checked=True)
        conversations = [
            _new_conversation(contact, customer.id, now)
            for contact, customer in zip(contacts, customers, strict=True)
        ]
        db.add_all(conversations)
        await db.flush()
        landed, complaints = [], []
        for contact, customer, conversation in zip(contacts, customers, conversations, strict=True):
            message = _new_message(contact, conversation.id, now)
            db.add(message)
            complaints.append(self._complaint(contact, customer))
            conversation.complaint = complaints[-1] is not None  # nobody else sees it before the commit
            active = _touch(contact, conversation, now)
            landed.append(_Landed(contact, customer, conversation, message, True, True, active))
        await db.flush()
        return [await self._claimed(db, *each) for each in zip(landed, complaints, strict=True)]

    async def _claimed(self, db: AsyncSession, landed: _Landed, complaint: NewComplaint | None) -> _Stored:
        """The stored message's result; when its conversation has to be routed, the task claimed for it (in
        the transaction) and the routing hints."""
        contact, customer, conversation = landed.contact, landed.customer, landed.conversation
        vip = customer.value_tier in self.vip_tiers or customer.lifecycle_stage == "vip"
        result = IntakeResult(
            customer_id=customer.id,
            conversation_id=conversation.id,
            message_id=landed.message.id,
            new_customer=landed.new_customer,
            new_conversation=landed.new_conversation,
            duplicate=False,
            task_id=conversation.task_id,
            priority=priority_for(vip=vip, complaint=conversation.complaint),
            complaint=conversation.complaint,
        )
        if landed.active or not contact.route:
            return result, None, complaint
        last_agent = None if landed.new_customer else await self._last_agent(db, customer.id, conversation.id)
        language = contact.language or customer.language
        task_id, queue = await self.routing.claim_task(
            conversation, contact.queue or DEFAULT_QUEUE, result.priority, language
        )
        return replace(result, task_id=task_id), RoutingHints(language, last_agent, queue), complaint

    def _complaint(self, contact: InboundContact, customer: Customer) -> NewComplaint | None:
        """Whether this message is a complaint: the channel's flag, else the classifier's verdict."""
        if contact.complaint:
            if contact.complaint_source == "ivr":
                return NewComplaint("ivr", "complaint option chosen in the IVR")
            return NewComplaint("channel", f"flagged as a complaint by the {contact.channel} channel")
        text = f"{contact.subject}\n{contact.text}" if contact.subject else contact.text
        verdict = self.complaints.classify(text, contact.language or customer.language)
        return NewComplaint("classifier", verdict.reason) if verdict.complaint else None

    @staticmethod
    async def _mark_complaint(db: AsyncSession, conversation: Conversation) -> bool:
        """Make the conversation a complaint; False if it already was one (a conditional update, so of two
        concurrent messages only one finds it was not)."""
        marked = await db.execute(
            update(Conversation)
            .where(Conversation.id == conversation.id, Conversation.complaint.is_(False))
            .values(complaint=True)
            .execution_options(synchronize_session=False)
        )
        conversation.complaint = True
        return bool(marked.rowcount)

    async def _already_stored(self, db: AsyncSession, contact: InboundContact) -> IntakeResult | None:
        """The earlier result for a message with the same channel id (a retried webhook)."""
        if not contact.external_id:
            return None
        key = {"channel": contact.channel, "external_id": contact.external_id}
        existing = (await db.execute(_STORED_MESSAGE, key)).first()
        if existing is None:
            return None
        conversation = await db.get(Conversation, existing.conversation_id)
        assert conversation is not None
        return IntakeResult(
            customer_id=conversation.customer_id,
            conversation_id=conversation.id,
            message_id=existing.id,
            new_customer=False,
            new_conversation=False,
            duplicate=True,
            task_id=conversation.task_id,
            priority=conversation.priority,
            complaint=conversation.complaint,
        )

    async def _customer(self, db: AsyncSession, contact: InboundContact) -> tuple[Customer, bool]:
        identities = [IdentityIn(kind=k, value=v) for k, v in contact.identities]
        found = await resolve.resolve(db, self.ctx, identities, contact.name)
        if found.customer is not None:
            return found.customer, False
        if found.conflict:  # identities of two customers: use the first one's owner, merge nothing
            return await records.get_customer(db, found.candidates[0].customer_id), False
        customer = await records.create_customer(
            db,
            self.ctx,
            self._new_customer(contact),
            identities_checked=True,  # resolution found none of them owned, in this transaction
        )
        return customer, True

    def _new_customer(self, contact: InboundContact) -> CustomerIn:
        """The customer a first contact creates: a lead, named by the contact or its first usable identity."""
        usable = [IdentityIn(kind=k, value=v) for k, v in contact.identities]
        usable = [i for i in usable if _valid(self.ctx, i)]
        return CustomerIn(
            display_name=contact.name or (usable[0].value if usable else "Unknown caller"),
            language=contact.language,
            lifecycle_stage="lead",
            identities=usable,
        )

    async def _conversation(
        self, db: AsyncSession, contact: InboundContact, customer_id: int, new_customer: bool, now: datetime
    ) -> tuple[Conversation, bool]:
        """The conversation this contact belongs to: the one it names, else a recent open one of the channel,
        else a new one (a customer created just now has none)."""
        if contact.conversation_id is not None:
            conversation = await db.get(Conversation, contact.conversation_id)
            if conversation is not None and (
                conversation.customer_id == customer_id or contact.conversation_verified
            ):
                return conversation, False
        window = REOPEN_WINDOW.get(contact.channel)
        if window is not None and not new_customer:
            recent = (
                await db.execute(
                    select(Conversation)
                    .where(
                        Conversation.customer_id == customer_id,
                        Conversation.channel == contact.channel,
                        Conversation.status == "open",
                        Conversation.last_activity_at >= now - window,
                    )
                    .order_by(Conversation.last_activity_at.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
            if recent is not None:
                return recent, False
        conversation = _new_conversation(contact, customer_id, now)
        db.add(conversation)
        await db.flush()
        return conversation, True

    @staticmethod
    async def _last_agent(db: AsyncSession, customer_id: int, conversation_id: int) -> int | None:
        """The agent of the customer's latest other conversation: preferred for this one."""
        return (
            await db.execute(
                select(Conversation.agent_id)
                .where(
                    Conversation.customer_id == customer_id,
                    Conversation.id != conversation_id,
                    Conversation.agent_id.is_not(None),
                )
                .order_by(Conversation.last_activity_at.desc())
                .limit(1)
            )
        ).scalar_one_or_none()


@dataclass(frozen=True)
class _Landed:
    """Where one message was written, before the routing of its conversation is claimed; `active`: the
    conversation was being routed already."""

    contact: InboundContact
    customer: Customer
    conversation: Conversation
    message: Message
    new_customer: bool
    new_conversation: bool
    active: bool


def _new_conversation(contact: InboundContact, customer_id: int, now: datetime) -> Conversation:
    return Conversation(
        customer_id=customer_id,
        channel=contact.channel,
        status="open",
        subject=(contact.subject or "")[:300],
        snippet=_snippet(contact),
        started_at=now,
        last_activity_at=now,
        routing_state="pending" if contact.route else None,
    )


def _new_message(contact: InboundContact, conversation_id: int, now: datetime) -> Message:
    return Message(
        conversation_id=conversation_id,
        channel=contact.channel,
        direction="in",
        author_kind="customer",
        body=contact.text,
        external_id=contact.external_id,
        created_at=now,
        attributes=dict(contact.attributes),
        media=list(contact.media),
    )


def _touch(contact: InboundContact, conversation: Conversation, now: datetime) -> bool:
    """The conversation's snippet and last activity from this message; one not being routed becomes pending
    (committed with the message: queued again if the process dies before routing it). True when it was
    being routed already."""
    conversation.snippet = _snippet(contact)
    conversation.last_activity_at = now
    active = conversation.routing_state in ("queued", "offered", "assigned", "wrapping")
    if not active and contact.route:
        conversation.routing_state = "pending"
    return active


async def _stored_ids(db: AsyncSession, ids: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these (channel, channel id) pairs a stored message has already."""
    pair = tuple_(Message.channel, Message.external_id)
    query = select(Message.channel, Message.external_id).where(pair.in_(ids))
    return {(row.channel, row.external_id) for row in await db.execute(query)}


def _usable_identities(ctx: CustomerContext, contact: InboundContact) -> list[Identity]:
    """The contact's identities, normalised; those that cannot be are left out (as resolution does)."""
    usable = []
    for kind, value in contact.identities:
        with contextlib.suppress(InvalidInput):
            usable.append(normalise(kind, value, ctx.default_region))
    return usable


def _check_channel(contact: InboundContact) -> None:
    if contact.channel not in CHANNELS:
        raise ValueError(f"unknown channel {contact.channel!r}")


def _snippet(contact: InboundContact) -> str:
    return (contact.text or contact.subject or "")[:SNIPPET]


def _valid(ctx: CustomerContext, identity: IdentityIn) -> bool:
    try:
        normalise(identity.kind, identity.value, ctx.default_region)
    except InvalidInput:
        return False
    return True
