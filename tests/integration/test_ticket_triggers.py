"""The other escalation triggers and timers: severity, a VIP customer's complaint, repeat contacts, auto-close
of resolved tickets, reminders of waiting tickets, and a customer's reply reopening a resolved ticket only
within the window. Driven through the ticket service on the whole app with the injected clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from contact_center.db.models import (
    Conversation,
    Customer,
    CustomerIdentity,
    Message,
    Notification,
    SlaPolicy,
    Ticket,
    TicketCategory,
    TicketEvent,
    TicketSla,
)
from contact_center.tickets.schemas import TicketCreate
from contact_center.tickets.workflow import ActionKind
from contact_center.web.appkeys import EVENTS, SESSIONS, TICKET_TIMERS, TICKETS
from tests.conftest import bearer
from tests.email_fixtures import email_client, email_settings, sink  # noqa: F401  (fixtures)


async def customer_with_conversation(app, clock, *, tier: str | None = None) -> tuple[int, int]:
    async with app[SESSIONS].begin() as db:
        customer = Customer(
            display_name="Ana", value_tier=tier, created_at=clock.now(), updated_at=clock.now()
        )
        db.add(customer)
        await db.flush()
        conversation = Conversation(
            customer_id=customer.id, channel="email", started_at=clock.now(), last_activity_at=clock.now()
        )
        db.add(conversation)
        await db.flush()
        return customer.id, conversation.id


async def customer_writes(app, clock, conversation_id: int, text: str = "Any news?") -> None:
    async with app[SESSIONS].begin() as db:
        message = Message(
            conversation_id=conversation_id,
            channel="email",
            direction="in",
            author_kind="customer",
            body=text,
            created_at=clock.now(),
            media=[],
            attributes={},
        )
        db.add(message)
        await db.flush()
    await app[TICKETS].customer_wrote(conversation_id, message.id)


async def history(app, ticket_id: int) -> list[str]:
    async with app[SESSIONS]() as db:
        query = select(TicketEvent.action).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
        return list((await db.execute(query)).scalars())


async def ticket(app, ticket_id: int) -> Ticket:
    async with app[SESSIONS]() as db:
        return await db.get(Ticket, ticket_id)


async def test_critical_tickets_and_vip_complaints_escalate_at_once(client, clock, staff):
    app = client.server.app
    customer_id, _ = await customer_with_conversation(app, clock)
    critical = await app[TICKETS].create(
        TicketCreate(customer_id=customer_id, subject="Gas smell", severity="critical"), actor_id=None
    )
    assert (await ticket(app, critical)).escalation_causes == ["severity"]
    vip_id, _ = await customer_with_conversation(app, clock, tier="platinum")
    vip = await app[TICKETS].create(
        TicketCreate(customer_id=vip_id, subject="Late again", category="complaint"), actor_id=None
    )
    assert (await ticket(app, vip)).escalation_causes == ["vip_complaint"]
    ordinary = await app[TICKETS].create(
        TicketCreate(customer_id=vip_id, subject="Question", category="inquiry"), actor_id=None
    )
    assert (await ticket(app, ordinary)).tier == 1
    await app[EVENTS].drain()


async def test_the_third_contact_within_the_window_escalates_once(client, clock, staff):
    app = client.server.app
    customer_id, conversation_id = await customer_with_conversation(app, clock)
    ticket_id = await app[TICKETS].create(
        TicketCreate(
            customer_id=customer_id,
            subject="Where is my refund",
            conversation_id=conversation_id,
            assignee_id=staff["agent"]["id"],
        ),
        actor_id=staff["agent"]["id"],
    )
    await customer_writes(app, clock, conversation_id)  # at once: the same contact as the opening one
    clock.advance(hours=3)
    await customer_writes(app, clock, conversation_id)  # the second contact
    assert (await ticket(app, ticket_id)).tier == 1
    clock.advance(days=1)
    await customer_writes(app, clock, conversation_id)  # the third: escalated
    clock.advance(days=1)
    await customer_writes(app, clock, conversation_id)  # a fourth escalates nothing more
    found = await ticket(app, ticket_id)
    assert (found.tier, found.escalation_causes) == (2, ["repeat_contact"])
    assert (await history(app, ticket_id)).count("escalate") == 1
    await app[EVENTS].drain()


async def test_resolved_tickets_close_after_the_delay_and_reopen_only_within_the_window(client, clock, staff):
    app = client.server.app
    service, timers = app[TICKETS], app[TICKET_TIMERS]
    customer_id, conversation_id = await customer_with_conversation(app, clock)
    agent = staff["agent"]["id"]

    def form(subject: str) -> TicketCreate:
        return TicketCreate(
            customer_id=customer_id, subject=subject, conversation_id=conversation_id, assignee_id=agent
        )

    first, second = (
        await service.create(form("One"), actor_id=agent),
        await service.create(form("Two"), actor_id=agent),
    )
    for ticket_id in (first, second):
        await service.act(ticket_id, ActionKind.START, actor_id=agent)
        await service.act(ticket_id, ActionKind.RESOLVE, actor_id=agent, reason="answered")
    clock.advance(days=2)
    await customer_writes(app, clock, conversation_id, "It broke again")  # within 7 days: both reopen
    assert [(await ticket(app, t)).status for t in (first, second)] == ["reopened", "reopened"]
    await service.act(first, ActionKind.RESOLVE, actor_id=agent, reason="fixed")
    await service.act(second, ActionKind.RESOLVE, actor_id=agent, reason="fixed")
    clock.advance(days=2)
    assert (await timers.run_once()).closed == 0
    clock.advance(days=1, minutes=1)  # three days after resolution
    assert (await timers.run_once()).closed == 2
    assert (await timers.run_once()).closed == 0
    assert [(await ticket(app, t)).status for t in (first, second)] == ["closed", "closed"]
    await customer_writes(app, clock, conversation_id, "Hello?")  # a closed ticket stays closed
    assert (await ticket(app, first)).status == "closed"
    assert (await history(app, first))[-1] == "close"
    await app[EVENTS].drain()


async def test_a_ticket_waiting_on_the_customer_reminds_its_assignee_once(client, clock, staff):
    app = client.server.app
    customer_id, _ = await customer_with_conversation(app, clock)
    agent = staff["agent"]["id"]
    ticket_id = await app[TICKETS].create(
        TicketCreate(customer_id=customer_id, subject="Need the receipt", assignee_id=agent), actor_id=agent
    )
    await app[TICKETS].act(ticket_id, ActionKind.START, actor_id=agent)
    await app[TICKETS].act(ticket_id, ActionKind.WAIT, actor_id=agent, reason="asked for the receipt")
    clock.advance(hours=47)
    assert (await app[TICKET_TIMERS].run_once()).reminded == 0
    clock.advance(hours=2)
    assert (await app[TICKET_TIMERS].run_once()).reminded == 1
    assert (await app[TICKET_TIMERS].run_once()).reminded == 0
    async with app[SESSIONS]() as db:
        kinds = (
            (await db.execute(select(Notification.kind).where(Notification.user_id == agent))).scalars().all()
        )
    assert "reminder" in kinds
    await app[EVENTS].drain()


async def test_a_routed_ticket_is_queued_again_after_an_embedded_restart(
    aiohttp_client, settings, clock, staff
):
    from contact_center.app import create_app

    first = await aiohttp_client(create_app(settings, clock=clock, tick_interval=None))
    customer_id, _ = await customer_with_conversation(first.app, clock)
    ticket_id = await first.app[TICKETS].create(
        TicketCreate(customer_id=customer_id, subject="Call me"), actor_id=None
    )
    task_id = (await ticket(first.app, ticket_id)).task_id
    assert await first.app[TICKETS].router.knows(task_id)
    await first.close()  # the embedded routing store (in memory) goes with the process
    again = await aiohttp_client(create_app(settings, clock=clock, tick_interval=None))
    clock.advance(seconds=11)
    assert (await again.app[TICKET_TIMERS].run_once()).rerouted == 1
    assert (await again.app[TICKET_TIMERS].run_once()).rerouted == 0
    requeued = await ticket(again.app, ticket_id)
    assert requeued.task_id != task_id and await again.app[TICKETS].router.knows(requeued.task_id)
    await again.app[EVENTS].drain()


async def policy(app, **targets) -> None:
    async with app[SESSIONS].begin() as db:
        db.add(SlaPolicy(name="Fast", position=1, warn_before_minutes=0, **targets))


async def clock_of(app, ticket_id: int, metric: str):
    async with app[SESSIONS]() as db:
        query = select(TicketSla).where(TicketSla.ticket_id == ticket_id, TicketSla.metric == metric)
        return (await db.execute(query)).scalar_one()


async def test_a_breach_listed_before_another_process_handled_it_is_not_breached_again(client, clock):
    app = client.server.app
    await policy(app, first_response_minutes=10)
    customer_id, _ = await customer_with_conversation(app, clock)
    ticket_id = await app[TICKETS].create(
        TicketCreate(customer_id=customer_id, subject="Slow"), actor_id=None
    )
    clock.advance(minutes=11)
    timers = app[TICKET_TIMERS]
    listed = await timers._due(TicketSla.due_at, TicketSla.breached_at, clock.now())
    assert len(listed) == 1
    assert (await timers.run_once()).escalated == 1  # "the other process": L2, and a new round of the clock
    clock_id, cycle = listed[0]
    assert await timers._breach(clock_id, cycle, clock.now()) == (0, 0)  # the stale listing changes nothing
    found = await ticket(app, ticket_id)
    assert (found.tier, found.escalation_causes) == (2, ["sla:first_response:1"])
    await app[EVENTS].drain()


async def test_more_messages_do_not_move_the_next_response_deadline_and_a_new_priority_retargets(
    client, clock, staff
):
    app = client.server.app
    await policy(app, first_response_minutes=60, next_response_minutes=30, resolution_minutes=600)
    customer_id, conversation_id = await customer_with_conversation(app, clock)
    agent = staff["agent"]["id"]
    ticket_id = await app[TICKETS].create(
        TicketCreate(
            customer_id=customer_id, subject="Hello?", conversation_id=conversation_id, assignee_id=agent
        ),
        actor_id=agent,
    )
    clock.advance(minutes=5)
    await app[TICKETS].agent_replied(conversation_id, agent)  # answered: first response met
    clock.advance(minutes=5)
    await customer_writes(app, clock, conversation_id, "thanks, but")  # the next response is due in 30 min
    due = (await clock_of(app, ticket_id, "next_response")).due_at
    clock.advance(minutes=20)
    await customer_writes(app, clock, conversation_id, "hello??")
    assert (await clock_of(app, ticket_id, "next_response")).due_at == due  # not pushed back
    survey = {"channel": "email", "conversation_id": conversation_id, "message_id": 1, "author_id": None}
    await app[EVENTS].publish("message.sent", survey)  # the service's own message (a survey): no reply
    await app[EVENTS].drain()
    assert (await clock_of(app, ticket_id, "next_response")).met_at is None

    async with app[SESSIONS].begin() as db:  # urgent tickets resolve within 2 hours instead of 10
        db.add(SlaPolicy(name="Urgent", position=0, priority="urgent", resolution_minutes=120))
    from contact_center.tickets.schemas import TicketUpdate

    await app[TICKETS].update(ticket_id, agent, TicketUpdate(priority="urgent"))
    resolution = await clock_of(app, ticket_id, "resolution")
    assert resolution.target_seconds == 7200 and resolution.consumed_seconds == 30 * 60
    assert resolution.due_at == clock.now() + timedelta(minutes=90)
    await app[EVENTS].drain()


async def test_single_tier_categories_and_refused_manual_escalations(client, clock, staff):
    from tests.conftest import bearer

    app = client.server.app
    async with app[SESSIONS].begin() as db:
        db.add(TicketCategory(code="billing", label="Billing", tiers=[{"tier": 1, "name": "Billing team"}]))
    customer_id, _ = await customer_with_conversation(app, clock)
    critical = await app[TICKETS].create(  # nowhere to go up to: opened and routed all the same
        TicketCreate(
            customer_id=customer_id, subject="Charged twice", category="billing", severity="critical"
        ),
        actor_id=None,
    )
    assert (await ticket(app, critical)).tier == 1
    headers = bearer(staff["supervisor"]["token"])
    refused = await client.post(
        f"/api/tickets/{critical}/escalate", json={"reason": "angry", "to_tier": 4}, headers=headers
    )
    assert refused.status == 409 and "highest tier" in (await refused.json())["error"]["message"]
    await policy(app, first_response_minutes=10)
    repair = await app[TICKETS].create(
        TicketCreate(customer_id=customer_id, subject="Broken", category="repair"), actor_id=None
    )
    async with app[SESSIONS].begin() as db:  # a category switched off later still works for its tickets
        row = (await db.execute(select(TicketCategory).where(TicketCategory.code == "repair"))).scalar_one()
        row.active = False
    clock.advance(minutes=11)
    assert (await app[TICKET_TIMERS].run_once()).escalated == 1
    assert (await ticket(app, repair)).tier == 2
    await app[EVENTS].drain()


async def customer_with_a_closed_chat(app, clock, email: str | None = None) -> tuple[int, int]:
    """A customer (with this email address, if any) whose only conversation is a chat they left."""
    async with app[SESSIONS].begin() as db:
        customer = Customer(display_name="Cy", created_at=clock.now(), updated_at=clock.now())
        db.add(customer)
        await db.flush()
        if email:
            db.add(
                CustomerIdentity(
                    customer_id=customer.id,
                    kind="email",
                    value=email,
                    display_value=email,
                    verified=False,
                    created_at=clock.now(),
                )
            )
        chat = Conversation(
            customer_id=customer.id,
            channel="chat",
            status="closed",
            started_at=clock.now(),
            last_activity_at=clock.now(),
        )
        db.add(chat)
        await db.flush()
        return customer.id, chat.id


async def ticket_on(client, staff, customer_id: int, conversation_id: int) -> int:
    created = await client.post(
        "/api/tickets",
        json={
            "customer_id": customer_id,
            "subject": "Left the chat",
            "conversation_id": conversation_id,
            "assignee_id": staff["agent"]["id"],
        },
        headers=bearer(staff["agent"]["token"]),
    )
    assert created.status == 201, await created.text()
    return (await created.json())["id"]


async def conversations_of(app, customer_id: int) -> list[str]:
    async with app[SESSIONS]() as db:
        query = select(Conversation.channel).where(Conversation.customer_id == customer_id)
        return sorted((await db.execute(query.order_by(Conversation.id))).scalars())


async def test_a_reply_to_a_ticket_whose_chat_ended_starts_an_email_to_the_customer(
    email_client,  # noqa: F811
    sink,  # noqa: F811
    clock,
    staff,
):
    app = email_client.app
    customer_id, chat_id = await customer_with_a_closed_chat(app, clock, "cy@example.com")
    ticket_id = await ticket_on(email_client, staff, customer_id, chat_id)
    headers = bearer(staff["agent"]["token"])

    replied = await email_client.post(
        f"/api/tickets/{ticket_id}/replies", json={"text": "We found your order."}, headers=headers
    )
    assert replied.status == 201, await replied.text()
    await app[EVENTS].drain()
    for _ in range(100):  # the outbound queue hands it to the relay in the background
        if sink.received:
            break
        await asyncio.sleep(0.02)
    [mail] = sink.messages()
    assert mail["To"] == "cy@example.com" and "We found your order." in mail.get_content()
    assert "Left the chat" in mail["Subject"]
    assert await conversations_of(app, customer_id) == ["chat", "email"]
    steps = await history(app, ticket_id)
    assert steps.index("conversation_linked") == steps.index("reply") - 1

    again = await email_client.post(  # the email conversation is linked now: the next reply goes there
        f"/api/tickets/{ticket_id}/replies", json={"text": "It ships today."}, headers=headers
    )
    assert again.status == 201, await again.text()
    assert await conversations_of(app, customer_id) == ["chat", "email"]


async def test_a_reply_that_cannot_go_by_email_leaves_no_conversation_behind(client, clock, staff):
    app = client.server.app  # no SMTP relay configured
    customer_id, chat_id = await customer_with_a_closed_chat(app, clock, "cy@example.com")
    ticket_id = await ticket_on(client, staff, customer_id, chat_id)
    before = await history(app, ticket_id)
    replied = await client.post(
        f"/api/tickets/{ticket_id}/replies",
        json={"text": "Hi again"},
        headers=bearer(staff["agent"]["token"]),
    )
    assert replied.status == 409 and "not configured" in (await replied.json())["error"]["message"]
    assert await conversations_of(app, customer_id) == ["chat"]
    assert await history(app, ticket_id) == before


async def test_a_ticket_whose_chat_has_ended_asks_for_another_way_to_reach_the_customer(client, clock, staff):
    from tests.conftest import bearer

    app = client.server.app
    async with app[SESSIONS].begin() as db:
        customer = Customer(display_name="Cy", created_at=clock.now(), updated_at=clock.now())
        db.add(customer)
        await db.flush()
        chat = Conversation(
            customer_id=customer.id,
            channel="chat",
            status="closed",
            started_at=clock.now(),
            last_activity_at=clock.now(),
        )
        db.add(chat)
        await db.flush()
    headers = bearer(staff["agent"]["token"])
    created = await client.post(
        "/api/tickets",
        json={
            "customer_id": customer.id,
            "subject": "Left the chat",
            "conversation_id": chat.id,
            "assignee_id": staff["agent"]["id"],
        },
        headers=headers,
    )
    ticket_id = (await created.json())["id"]
    replied = await client.post(
        f"/api/tickets/{ticket_id}/replies", json={"text": "Hi again"}, headers=headers
    )
    assert replied.status == 409 and "link an email or SMS" in (await replied.json())["error"]["message"]
    await app[TICKETS].act(ticket_id, ActionKind.RESOLVE, actor_id=staff["agent"]["id"], reason="called back")
    assert (await history(app, ticket_id))[-1] == "survey_skipped"  # no way to ask for a rating either
    await app[EVENTS].drain()
