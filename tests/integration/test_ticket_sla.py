"""SLA clocks on the whole app with an injected clock: business hours across a weekend and a holiday, a pause
while the ticket waits on the customer, a warning and then a breach that escalates once, with the notices
received by email (a real SMTP sink) and by SMS (the Twilio stand-in). Then two scheduler processes on one
PostgreSQL and Redis for an hour of virtual time: every breached ticket is escalated exactly once."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from contact_center.app import create_app
from contact_center.db.models import (
    BusinessCalendar,
    Customer,
    Notification,
    SlaPolicy,
    Ticket,
    TicketEscalation,
    TicketEvent,
    User,
)
from contact_center.web.appkeys import EVENTS, SESSIONS, TICKET_TIMERS, TICKETS
from tests import email_fixtures
from tests.conftest import another_process, bearer
from tests.services import postgres_problem, redis_problem, require
from tests.twilio_standin import ACCOUNT_SID, AUTH_TOKEN, OUR_NUMBER

email_settings, sink = email_fixtures.email_settings, email_fixtures.sink  # fixtures used here
WEEKDAYS = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
AGENT_PHONE = "+447700900123"


def move_to(clock, moment: datetime) -> None:
    clock.advance(seconds=(moment - clock.now()).total_seconds())


def london(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)  # London is on UTC in January


@pytest.fixture
def full_settings(email_settings, twilio):
    """Email to the sink and SMS to the Twilio stand-in."""
    from pydantic import SecretStr

    return email_settings.model_copy(
        update={
            "twilio_account_sid": ACCOUNT_SID,
            "twilio_auth_token": SecretStr(AUTH_TOKEN),
            "twilio_phone_number": OUR_NUMBER,
            "twilio_api_base_url": twilio.base_url,
        }
    )


async def office_policy(app) -> None:
    """Repairs: first response in 4 business hours, resolution in 16; Mon-Fri 9-17 London, Monday 12th off."""
    async with app[SESSIONS].begin() as db:
        calendar = BusinessCalendar(
            name="London office", timezone="Europe/London", hours=WEEKDAYS, holidays=["2026-01-12"]
        )
        db.add(calendar)
        await db.flush()
        db.add(
            SlaPolicy(
                name="Repairs",
                position=1,
                category="repair",
                first_response_minutes=4 * 60,
                resolution_minutes=16 * 60,
                warn_before_minutes=60,
                calendar_id=calendar.id,
            )
        )


async def wants_everything(app, user_id: int) -> None:
    async with app[SESSIONS].begin() as db:
        user = await db.get(User, user_id)
        user.email, user.phone = "agent@example.com", AGENT_PHONE
        user.notify = {"channels": ["console", "email", "sms"]}


async def test_business_hours_a_pause_a_warning_and_one_escalation_with_email_and_sms(
    aiohttp_client, full_settings, clock, staff, sink, twilio
):
    move_to(clock, london(9, 16))  # Friday 16:00
    client = await aiohttp_client(create_app(full_settings, clock=clock, tick_interval=None))
    app = client.app
    await office_policy(app)
    await wants_everything(app, staff["agent"]["id"])
    agent = bearer(staff["agent"]["token"])
    customer = await (await client.post("/api/customers", json={"display_name": "Ana"}, headers=agent)).json()
    created = await client.post(
        "/api/tickets",
        json={
            "customer_id": customer["id"],
            "subject": "Kettle repair",
            "category": "repair",
            "assignee_id": staff["agent"]["id"],
        },
        headers=agent,
    )
    assert created.status == 201, await created.text()
    ticket = await created.json()
    first = next(c for c in ticket["sla"] if c["metric"] == "first_response")
    # Fri 16-17 is one hour; Saturday, Sunday and the Monday holiday do not count; Tuesday 9-12 the rest
    assert first["due_at"] == london(13, 12).isoformat()
    timers, path = app[TICKET_TIMERS], f"/api/tickets/{ticket['id']}"

    move_to(clock, london(12, 15))  # the holiday afternoon: nothing is due
    assert (await timers.run_once()).warned == 0
    move_to(clock, london(13, 9, 30))  # Tuesday: 1.5 business hours used, the customer is asked something
    waited = await client.post(
        f"{path}/actions", json={"action": "wait", "reason": "asked for a photo"}, headers=agent
    )
    assert waited.status == 200
    paused = next(c for c in (await waited.json())["sla"] if c["metric"] == "first_response")
    assert paused["state"] == "paused" and paused["consumed_seconds"] == 1.5 * 3600
    move_to(clock, london(13, 15))  # the clock stood still while the ticket waited
    assert (await timers.run_once()).warned == 0
    resumed = await client.post(f"{path}/actions", json={"action": "resume"}, headers=agent)
    first = next(c for c in (await resumed.json())["sla"] if c["metric"] == "first_response")
    assert first["due_at"] == london(14, 9, 30).isoformat()  # 2 h on Tuesday, the last half hour on Wednesday
    assert first["warn_at"] == london(13, 16, 30).isoformat()

    move_to(clock, london(13, 16, 31))
    warned = await timers.run_once()
    assert warned.warned == 1 and warned.delivered >= 2
    move_to(clock, london(14, 9, 31))
    breached = await timers.run_once()
    assert (breached.breached, breached.escalated) == (1, 1)
    later = await timers.run_once()
    assert (later.breached, later.escalated) == (0, 0)
    await app[EVENTS].drain()

    detail = await (await client.get(path, headers=bearer(staff["supervisor"]["token"]))).json()
    assert (detail["status"], detail["tier"]) == ("escalated", 2)
    assert [e["cause"] for e in detail["escalations"]] == ["sla:first_response:1"]
    subjects = [m["Subject"] for m in sink.messages()]
    assert any("first response due at 2026-01-14 09:30" in s for s in subjects), subjects
    assert any("missed its first response target" in s for s in subjects), subjects
    assert any("escalated to L2" in s for s in subjects), subjects
    texts = [m["Body"] for m in twilio.messages() if m["To"] == AGENT_PHONE]
    assert any("first response due" in t for t in texts) and any("escalated to L2" in t for t in texts), texts
    async with app[SESSIONS]() as db:
        kinds = (
            await db.execute(
                select(Notification.kind, Notification.channel, Notification.status).where(
                    Notification.user_id == staff["agent"]["id"]
                )
            )
        ).all()
    assert {(k, c) for k, c, _ in kinds} >= {
        ("sla_warning", "email"),
        ("sla_warning", "sms"),
        ("sla_breach", "email"),
        ("escalated", "sms"),
    }
    assert all(status == "sent" for _, _, status in kinds)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_scheduler_processes_escalate_each_breached_ticket_exactly_once(
    aiohttp_client, settings, clock, database_url
):
    require(postgres_problem())
    require(redis_problem())
    import redis.asyncio as aioredis

    shared = settings.model_copy(
        update={"redis_url": "redis://127.0.0.1:6379/0", "redis_prefix": "cc-t-sla:"}
    )
    flush = aioredis.from_url("redis://127.0.0.1:6379/0")
    for key in await flush.keys("cc-t-sla:*"):
        await flush.delete(key)
    await flush.aclose()
    first = await aiohttp_client(create_app(shared, clock=clock, tick_interval=None))
    second = await aiohttp_client(create_app(another_process(shared), clock=clock, tick_interval=None))
    app = first.app
    async with app[SESSIONS].begin() as db:
        db.add(SlaPolicy(name="Fast", position=1, first_response_minutes=10, resolution_minutes=45))
        customer = Customer(display_name="Many", created_at=clock.now(), updated_at=clock.now())
        db.add(customer)
    from contact_center.tickets.schemas import TicketCreate

    rng = random.Random(7)
    ids = []
    for n in range(30):  # tickets opened over the first half hour
        clock.advance(seconds=rng.randint(0, 60))
        form = TicketCreate(customer_id=customer.id, subject=f"Ticket {n}", category="service_request")
        ids.append(await app[TICKETS].create(form, actor_id=None))
    start = clock.now()
    while (clock.now() - start).total_seconds() < 3600:  # an hour, both processes' timers every 15 s
        clock.advance(seconds=15)
        await asyncio.gather(first.app[TICKET_TIMERS].run_once(), second.app[TICKET_TIMERS].run_once())
    async with app[SESSIONS]() as db:
        per_cause = (
            await db.execute(
                select(TicketEscalation.ticket_id, TicketEscalation.cause, func.count()).group_by(
                    TicketEscalation.ticket_id, TicketEscalation.cause
                )
            )
        ).all()
        breaches = (
            await db.execute(
                select(TicketEvent.ticket_id, func.count())
                .where(TicketEvent.action == "sla_breached")
                .group_by(TicketEvent.ticket_id)
            )
        ).all()
        escalated = (
            await db.execute(select(func.count()).select_from(Ticket).where(Ticket.tier > 1))
        ).scalar()
        notices = (
            await db.execute(select(Notification.dedupe_key, func.count()).group_by(Notification.dedupe_key))
        ).all()
    assert escalated == len(ids)  # every ticket breached its first response and went up
    assert all(count == 1 for _, _, count in per_cause)
    assert {cause for _, cause, _ in per_cause} >= {"sla:first_response:1", "sla:first_response:2"}
    # each breach happens once: the first response at L1, at L2 and at L3 (10 minutes each), then the
    # resolution (45 minutes); the first two escalate, the others find the ticket at the top tier
    assert sorted(count for _, count in breaches) == [4] * len(ids)
    assert len(per_cause) == 2 * len(ids)
    assert all(count == 1 for _, count in notices)
