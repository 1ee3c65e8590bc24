"""Notifications: who is told, each notice recorded once per user and channel (whichever process raises it),
delivery to the console (a real socket.io client), by email (a real SMTP sink) and by SMS (the Twilio
stand-in), quiet hours with one digest after them, and the caller's notifications and preferences API."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from channels.notification_senders import delivery_for, email_sender, sms_sender
from channels.twilio_client import close_client, rest_client
from contact_center.db.engine import create_engine, session_factory
from contact_center.db.models import Customer, Notification, Team, Ticket, User
from contact_center.events import InProcessBus
from contact_center.tickets.notify import Notice, Preferences, dedupe_key, recipients, record
from contact_center.tickets.notify_delivery import (
    EMAIL_OFF,
    RETRY_DELAYS,
    SMS_OFF,
    TOPIC,
    NotificationDelivery,
)
from contact_center.web.appkeys import EVENTS, SESSIONS
from tests import email_fixtures
from tests.conftest import bearer
from tests.integration import test_chat
from tests.twilio_standin import OUR_NUMBER

# fixtures of other modules this one uses
email_settings, sink, sockets = email_fixtures.email_settings, email_fixtures.sink, test_chat.sockets

EVERY_CHANNEL = {"channels": ["console", "email", "sms"]}
NIGHTS_IN_LONDON = {
    "channels": ["console", "email", "sms"],
    "quiet_hours": {"start": "22:00", "end": "07:00"},
    "timezone": "Europe/London",
}


@dataclass
class People:
    ticket_id: int
    agent: int  # the assignee, team A
    lead: int  # team A's lead, a supervisor of team A
    supervisor_b: int  # the only active supervisor of team B
    lead_b: int  # team C's lead (team C has no supervisor)
    agent_c: int  # an agent of team C
    team_c: int


def user(username: str, role: str, team_id: int | None, now: datetime, **fields) -> User:
    return User(
        username=username,
        display_name=username.title(),
        password_hash="not-used",
        role=role,
        team_id=team_id,
        created_at=now,
        **fields,
    )


@pytest.fixture
async def people(sessions, clock) -> People:
    """Teams A, B and C, their people, and a ticket of team A assigned to an agent who wants every channel."""
    now = clock.now()
    async with sessions.begin() as db:
        teams = [Team(name=name, created_at=now) for name in ("A", "B", "C")]
        db.add_all(teams)
        await db.flush()
        a, b, c = (team.id for team in teams)
        agent = user("agent", "agent", a, now, email="agent@example.com", phone="+447700900001")
        agent.notify = EVERY_CHANNEL
        lead = user("lead", "supervisor", a, now, email="lead@example.com")
        retired = user("retired", "supervisor", a, now, email="old@example.com", is_active=False)
        supervisor_b = user("sup-b", "supervisor", b, now, email="supb@example.com")
        lead_b = user("lead-c", "agent", c, now)
        agent_c = user("agent-c", "agent", c, now)
        db.add_all([agent, lead, retired, supervisor_b, lead_b, agent_c])
        await db.flush()
        teams[0].lead_id, teams[2].lead_id = lead.id, lead_b.id
        customer = Customer(display_name="Ada", created_at=now, updated_at=now)
        db.add(customer)
        await db.flush()
        ticket = Ticket(
            customer_id=customer.id,
            subject="Broken grinder",
            created_at=now,
            updated_at=now,
            assignee_id=agent.id,
            team_id=a,
        )
        db.add(ticket)
        await db.flush()
        return People(ticket.id, agent.id, lead.id, supervisor_b.id, lead_b.id, agent_c.id, c)


def notice(n: int = 1, ticket_id: int | None = None, kind: str = "sla_breach") -> Notice:
    return Notice(
        kind,
        ticket_id,
        f"Ticket T-{ticket_id}: first response late ({n})",
        f"Broken grinder ({n})",
        f"{kind}:{n}",
    )


async def raise_notice(sessions, clock, people: People, told: Notice, roles=("assignee",)) -> list[int]:
    async with sessions.begin() as db:
        ticket = await db.get(Ticket, people.ticket_id)
        return [row.id for row in await record(db, told, await recipients(db, ticket, roles), clock.now())]


async def set_notify(sessions, user_id: int, notify: dict, **fields) -> None:
    async with sessions.begin() as db:
        row = await db.get(User, user_id)
        row.notify = notify
        for name, value in fields.items():
            setattr(row, name, value)


async def stored(sessions, *where) -> list[Notification]:
    async with sessions() as db:
        query = select(Notification).where(*where).order_by(Notification.id)
        return list((await db.scalars(query)).all())


def move_to(clock, when: datetime) -> None:
    clock.advance(seconds=(when - clock.now()).total_seconds())


class Console:
    """A bus that keeps what was published to it."""

    def __init__(self, clock) -> None:
        self.bus = InProcessBus(clock)
        self.events: list[dict] = []

        async def keep(event) -> None:
            self.events.append(event.payload)

        self.bus.subscribe(TOPIC, keep)


@pytest.fixture
async def twilio_rest(twilio_settings):
    """The twilio REST client pointed at the stand-in."""
    client = rest_client(twilio_settings)
    yield client
    await close_client(client)


@pytest.fixture
def delivery(sessions, clock, email_settings, twilio_settings, twilio_rest):
    """Deliveries on the test database, by email to the sink and SMS to the Twilio stand-in."""

    def make(sessions=sessions, console: Console | None = None) -> tuple[NotificationDelivery, Console]:
        console = console or Console(clock)
        made = NotificationDelivery(
            sessions,
            console.bus,
            clock,
            email=email_sender(email_settings, clock),
            sms=sms_sender(twilio_settings, twilio_rest),
        )
        return made, console

    return make


# who is told ------------------------------------------------------------------------------------------


async def test_recipients_are_the_assignee_the_team_lead_and_the_teams_active_supervisors_each_once(
    sessions, people
):
    async with sessions() as db:
        ticket = await db.get(Ticket, people.ticket_id)
        told = await recipients(db, ticket, ["assignee", "team_lead", "supervisors", "assignee"])
        assert [u.id for u in told] == [people.agent, people.lead]  # the retired supervisor is skipped
        assert [u.id for u in await recipients(db, ticket, ["supervisors"])] == [people.lead]
        assert [u.id for u in await recipients(db, ticket, ["team_lead"])] == [people.lead]


async def test_without_a_team_the_assignees_lead_is_told_and_all_supervisors_when_the_team_has_none(
    sessions, people
):
    async with sessions.begin() as db:
        ticket = await db.get(Ticket, people.ticket_id)
        ticket.team_id, ticket.assignee_id = None, people.agent_c
        told = await recipients(db, ticket, ["assignee", "team_lead", "supervisors"])
        assert [u.id for u in told] == [people.agent_c, people.lead_b, people.lead, people.supervisor_b]


async def test_inactive_users_and_unknown_roles_are_skipped(sessions, people):
    await set_notify(sessions, people.agent, EVERY_CHANNEL, is_active=False)
    async with sessions() as db:
        ticket = await db.get(Ticket, people.ticket_id)
        assert await recipients(db, ticket, ["assignee", "no_such_role"]) == []


# recording ---------------------------------------------------------------------------------------------


async def test_one_row_per_channel_the_user_chose_and_can_be_reached_by(sessions, clock, people):
    await set_notify(sessions, people.lead, {"channels": ["console", "sms"]})  # no phone: no SMS
    created = await raise_notice(
        sessions, clock, people, notice(1, people.ticket_id), ["assignee", "team_lead"]
    )
    rows = await stored(sessions)
    assert [r.id for r in rows] == created
    assert {(r.user_id, r.channel) for r in rows} == {
        (people.agent, "console"),
        (people.agent, "email"),
        (people.agent, "sms"),
        (people.lead, "console"),
    }
    assert {r.status for r in rows} == {"queued"} and {r.deliver_after for r in rows} == {None}
    assert rows[0].dedupe_key.startswith("sla_breach:1:")


async def test_empty_preferences_mean_console_and_email_when_there_is_an_address(sessions, clock, people):
    async with sessions() as db:
        ticket = await db.get(Ticket, people.ticket_id)
        users = [await db.get(User, people.lead), await db.get(User, people.lead_b)]  # lead_b has no email
    async with sessions.begin() as db:
        await record(db, notice(1, ticket.id), users, clock.now())
    rows = await stored(sessions)
    assert [(r.user_id, r.channel) for r in rows] == [
        (people.lead, "console"),
        (people.lead, "email"),
        (people.lead_b, "console"),
    ]


async def test_recording_the_same_notice_again_creates_nothing_and_the_transaction_goes_on(
    sessions, clock, people
):
    first = await raise_notice(sessions, clock, people, notice(1, people.ticket_id))
    async with sessions.begin() as db:
        ticket = await db.get(Ticket, people.ticket_id)
        agent = await db.get(User, people.agent)
        assert await record(db, notice(1, ticket.id), [agent], clock.now()) == []
        assert await record(db, notice(1, ticket.id), [agent], clock.now()) == []
        ticket.subject = "Still broken"  # the caller's transaction is intact and commits
    assert len(first) == 3 and len(await stored(sessions)) == 3
    async with sessions() as db:
        assert (await db.get(Ticket, people.ticket_id)).subject == "Still broken"


async def test_two_sessions_raising_the_same_notice_at_once_store_it_once(sessions, clock, people):
    told = notice(7, people.ticket_id)
    results = await asyncio.gather(
        *[raise_notice(sessions, clock, people, told, ["assignee", "team_lead"]) for _ in range(3)]
    )
    assert sorted(len(created) for created in results) == [0, 0, 5]  # the agent's 3, the lead's 2
    async with sessions() as db:
        assert (await db.execute(select(func.count()).select_from(Notification))).scalar_one() == 5


async def test_two_engines_raising_the_same_notices_at_once_store_each_once(
    sessions, clock, people, database_url
):
    other = create_engine(database_url)
    try:
        others = session_factory(other)
        notices = [notice(n, people.ticket_id) for n in range(5)]

        async def raise_all(factory) -> int:
            return sum(
                [len(await raise_notice(factory, clock, people, told, ["assignee"])) for told in notices]
            )

        made = await asyncio.gather(raise_all(sessions), raise_all(others))
    finally:
        await other.dispose()
    assert sum(made) == 15 and len(await stored(sessions)) == 15


def test_a_long_key_is_shortened_with_its_hash_and_stays_unique():
    long_a, long_b = "x" * 300, "x" * 299 + "y"
    assert len(dedupe_key(long_a, 1, "email")) <= 200
    assert dedupe_key(long_a, 1, "email") != dedupe_key(long_b, 1, "email")
    assert dedupe_key("sla_breach:12:first_response:1", 3, "sms") == "sla_breach:12:first_response:1:3:sms"


# quiet hours ---------------------------------------------------------------------------------------------


LONDON = ZoneInfo("Europe/London")
NIGHT = Preferences(quiet_start=time(22), quiet_end=time(7), zone=LONDON)


@pytest.mark.parametrize(
    ("now", "until"),
    [
        (datetime(2026, 1, 5, 23, 30, tzinfo=UTC), datetime(2026, 1, 6, 7, 0, tzinfo=UTC)),  # before midnight
        (datetime(2026, 1, 6, 3, 0, tzinfo=UTC), datetime(2026, 1, 6, 7, 0, tzinfo=UTC)),  # after midnight
        (datetime(2026, 1, 6, 7, 0, tzinfo=UTC), None),  # the end is not quiet
        (datetime(2026, 1, 6, 21, 59, tzinfo=UTC), None),
        (datetime(2026, 7, 6, 21, 30, tzinfo=UTC), datetime(2026, 7, 7, 6, 0, tzinfo=UTC)),  # BST: 22:30
        (datetime(2026, 7, 6, 20, 30, tzinfo=UTC), None),  # BST: 21:30
    ],
)
def test_quiet_hours_across_midnight_in_the_users_time_zone(now, until):
    assert NIGHT.quiet_until(now) == until


def test_quiet_hours_within_a_day_and_none():
    lunch = Preferences(quiet_start=time(12), quiet_end=time(13, 30))
    assert lunch.quiet_until(datetime(2026, 1, 5, 12, 15, tzinfo=UTC)) == datetime(
        2026, 1, 5, 13, 30, tzinfo=UTC
    )
    assert lunch.quiet_until(datetime(2026, 1, 5, 13, 30, tzinfo=UTC)) is None
    assert Preferences().quiet_until(datetime(2026, 1, 5, 3, tzinfo=UTC)) is None


# delivery ------------------------------------------------------------------------------------------------


async def test_each_channel_delivers_console_event_email_to_the_sink_and_sms_to_twilio(
    sessions, clock, people, delivery, sink, twilio
):
    created = await raise_notice(sessions, clock, people, notice(1, people.ticket_id))
    deliver, console = delivery()

    assert await deliver.deliver_due() == 3
    await console.bus.drain()

    [pushed] = console.events
    row = (await stored(sessions, Notification.channel == "console"))[0]
    assert pushed == {
        "id": row.id,
        "user_id": people.agent,
        "ticket_id": people.ticket_id,
        "kind": "sla_breach",
        "title": row.title,
        "body": "Broken grinder (1)",
        "created_at": clock.now().isoformat(),
    }
    [mail] = sink.messages()
    assert mail["To"] == "agent@example.com" and mail["Subject"] == row.title
    assert mail["Auto-Submitted"] == "auto-generated"
    assert "Broken grinder (1)" in mail.get_content()
    [sms] = twilio.messages()
    assert sms["To"] == "+447700900001" and sms["From"] == OUR_NUMBER
    assert sms["Body"] == f"{row.title}: Broken grinder (1)"
    rows = await stored(sessions)
    assert [r.id for r in rows] == created
    assert {(r.status, r.sent_at, r.error) for r in rows} == {("sent", clock.now(), "")}
    assert await deliver.deliver_due() == 0 and len(sink.received) == 1 and len(twilio.messages()) == 1


async def test_quiet_hours_hold_email_and_sms_and_one_digest_goes_out_once_after_them(
    sessions, clock, people, delivery, sink, twilio
):
    await set_notify(sessions, people.agent, NIGHTS_IN_LONDON)
    clock.advance(hours=13, minutes=30)  # 22:30 in London on 5 January (GMT)
    for n in range(3):
        await raise_notice(sessions, clock, people, notice(n, people.ticket_id))
        clock.advance(minutes=20)
    held = await stored(sessions, Notification.status == "held")
    assert {(r.channel, r.deliver_after) for r in held} == {
        ("email", datetime(2026, 1, 6, 7, 0, tzinfo=UTC)),
        ("sms", datetime(2026, 1, 6, 7, 0, tzinfo=UTC)),
    }
    assert len(held) == 6
    deliver, console = delivery()

    assert await deliver.deliver_due() == 3  # the console is never held
    await console.bus.drain()
    assert len(console.events) == 3 and sink.received == [] and twilio.messages() == []
    move_to(clock, datetime(2026, 1, 6, 6, 59, tzinfo=UTC))
    assert await deliver.deliver_due() == 0 and sink.received == []

    move_to(clock, datetime(2026, 1, 6, 7, 0, tzinfo=UTC))
    assert await deliver.deliver_due() == 6
    assert await deliver.deliver_due() == 0

    [digest] = sink.messages()
    assert digest["Subject"] == "3 ticket notifications while you were away"
    text = digest.get_content()
    assert text.index("22:30 Ticket") < text.index("22:50 Ticket") < text.index("23:10 Ticket")
    [sms] = twilio.messages()
    assert sms["Body"].startswith("3 ticket notifications while you were away: Ticket")
    assert sms["Body"].count(f"Ticket T-{people.ticket_id}") == 3
    rows = await stored(sessions, Notification.channel != "console")
    assert {(r.status, r.sent_at) for r in rows} == {("digested", clock.now())}


async def test_two_deliveries_at_once_send_each_notification_once(
    sessions, clock, people, delivery, sink, twilio, database_url
):
    await set_notify(sessions, people.agent, NIGHTS_IN_LONDON)
    clock.advance(hours=13)  # 22:00 in London: email and SMS are held
    for n in range(2):
        await raise_notice(sessions, clock, people, notice(100 + n, people.ticket_id))
    clock.advance(hours=1)
    await set_notify(sessions, people.agent, EVERY_CHANNEL)
    for n in range(4):
        await raise_notice(sessions, clock, people, notice(n, people.ticket_id))
    move_to(clock, datetime(2026, 1, 6, 8, 0, tzinfo=UTC))
    other = create_engine(database_url)
    try:
        first, console = delivery()
        second, _ = delivery(session_factory(other), console)
        sent = await asyncio.gather(first.deliver_due(), second.deliver_due(), first.deliver_due())
    finally:
        await other.dispose()
    await console.bus.drain()

    assert sum(sent) == 18
    assert len(console.events) == 6 and len({e["id"] for e in console.events}) == 6
    assert sorted(m["Subject"] for m in sink.messages())[0] == "2 ticket notifications while you were away"
    assert len(sink.received) == 5 and len(twilio.messages()) == 5  # 4 each, and one digest each
    assert {r.status for r in await stored(sessions)} == {"sent", "digested"}


async def test_an_unconfigured_channel_or_a_refusal_fails_the_row_with_the_reason(
    sessions, clock, people, sink, email_settings
):
    await raise_notice(sessions, clock, people, notice(1, people.ticket_id))
    console = Console(clock)
    bare = NotificationDelivery(sessions, console.bus, clock)

    assert await bare.deliver_due() == 1  # the console

    by_channel = {r.channel: r for r in await stored(sessions)}
    assert by_channel["console"].status == "sent"
    assert (by_channel["email"].status, by_channel["email"].error) == ("failed", EMAIL_OFF)
    assert (by_channel["sms"].status, by_channel["sms"].error) == ("failed", SMS_OFF)
    assert by_channel["sms"].sent_at is None

    sink.answer = "550 5.1.1 no such user"
    await set_notify(sessions, people.agent, {"channels": ["email"]})
    mailing = NotificationDelivery(sessions, console.bus, clock, email=email_sender(email_settings, clock))
    await raise_notice(sessions, clock, people, notice(2, people.ticket_id))
    assert await mailing.deliver_due() == 0
    [refused] = await stored(sessions, Notification.dedupe_key.startswith("sla_breach:2:"))
    assert refused.status == "failed" and "550" in refused.error


async def test_a_passing_failure_waits_for_the_next_attempt_and_the_last_attempt_fails(
    sessions, clock, people, delivery, sink, twilio
):
    await raise_notice(sessions, clock, people, notice(1, people.ticket_id))
    deliver, _ = delivery()
    sink.answer = "451 4.3.0 try again later"  # the relay is busy
    twilio.fail_next = 1  # Twilio answers 500 once

    assert await deliver.deliver_due() == 1  # the console only
    by_channel = {r.channel: r for r in await stored(sessions)}
    for channel in ("email", "sms"):
        row = by_channel[channel]
        assert (row.status, row.attempts, row.deliver_after) == ("queued", 1, clock.now() + RETRY_DELAYS[0])
    assert "451" in by_channel["email"].error and "500" in by_channel["sms"].error

    clock.advance(seconds=30)
    assert await deliver.deliver_due() == 0  # not yet: nothing is tried before its time
    sink.answer = None
    clock.advance(seconds=30)
    assert await deliver.deliver_due() == 2
    assert {(r.status, r.error) for r in await stored(sessions)} == {("sent", "")}
    assert len(sink.messages()) == 1
    assert len(twilio.messages()) == 2  # the stand-in records the request it refused, and the one it took

    await set_notify(sessions, people.agent, {"channels": ["email"]})
    await raise_notice(sessions, clock, people, notice(2, people.ticket_id))
    sink.answer = "451 4.3.0 try again later"
    for delay in RETRY_DELAYS:  # every attempt meets the busy relay
        assert await deliver.deliver_due() == 0
        [row] = await stored(sessions, Notification.dedupe_key.startswith("sla_breach:2:"))
        assert row.status == "queued"
        clock.advance(seconds=delay.total_seconds())
    assert await deliver.deliver_due() == 0
    [row] = await stored(sessions, Notification.dedupe_key.startswith("sla_breach:2:"))
    assert (row.status, row.attempts) == ("failed", len(RETRY_DELAYS)) and "451" in row.error
    assert await deliver.deliver_due() == 0 and len(sink.messages()) == 1


async def test_a_digest_that_met_a_busy_relay_goes_out_whole_at_its_next_attempt(
    sessions, clock, people, delivery, sink
):
    await set_notify(sessions, people.agent, {**NIGHTS_IN_LONDON, "channels": ["email"]})
    move_to(clock, datetime(2026, 1, 14, 23, 0, tzinfo=UTC))  # 23:00 in London: quiet
    for n in (1, 2):
        await raise_notice(sessions, clock, people, notice(n, people.ticket_id))
    deliver, _ = delivery()
    move_to(clock, datetime(2026, 1, 15, 7, 0, tzinfo=UTC))
    sink.answer = "421 4.4.2 closing connection"
    assert await deliver.deliver_due() == 0
    assert {(r.status, r.attempts) for r in await stored(sessions)} == {("held", 1)}
    sink.answer = None
    clock.advance(seconds=RETRY_DELAYS[0].total_seconds())
    assert await deliver.deliver_due() == 2
    [digest] = sink.messages()
    assert digest["Subject"] == "2 ticket notifications while you were away"
    assert {r.status for r in await stored(sessions)} == {"digested"}


# the console and the API -------------------------------------------------------------------------------


async def test_the_users_console_receives_the_notification_event(client, staff, sockets, clock):
    app = client.server.app
    agent = await sockets(client, "/agent", auth={"token": staff["agent"]["token"]})
    supervisor = await sockets(client, "/agent", auth={"token": staff["supervisor"]["token"]})
    await agent.wait_for("state")
    async with app[SESSIONS].begin() as db:
        users = [await db.get(User, staff["agent"]["id"])]
        [row] = await record(
            db, Notice("reminder", None, "Call Ada back", "She asked at 9", "r:1"), users, clock.now()
        )

    assert await delivery_for(app).deliver_due() == 1  # the console (these staff have no email address)
    await app[EVENTS].drain()

    [pushed] = await agent.wait_for("notification")
    assert pushed == {
        "id": row.id,
        "user_id": staff["agent"]["id"],
        "ticket_id": None,
        "kind": "reminder",
        "title": "Call Ada back",
        "body": "She asked at 9",
        "created_at": clock.now().isoformat(),
    }
    assert "notification" not in supervisor.received


async def test_the_caller_lists_and_reads_only_their_own_notifications(client, staff, sessions, clock):
    async with sessions.begin() as db:
        agent, supervisor = (
            await db.get(User, staff["agent"]["id"]),
            await db.get(User, staff["supervisor"]["id"]),
        )
        for n in range(3):
            await record(db, Notice("reminder", None, f"Reminder {n}", "", f"r:{n}"), [agent], clock.now())
            clock.advance(minutes=1)
        [theirs] = await record(db, Notice("reminder", None, "Theirs", "", "t:1"), [supervisor], clock.now())
    headers = bearer(staff["agent"]["token"])

    listed = await (await client.get("/api/notifications?channel=console", headers=headers)).json()
    assert [n["title"] for n in listed] == ["Reminder 2", "Reminder 1", "Reminder 0"]
    assert listed[0]["read_at"] is None and listed[0]["status"] == "queued"
    read = await client.post(f"/api/notifications/{listed[0]['id']}/read", headers=headers)
    assert read.status == 200 and (await read.json())["read_at"] == clock.now().isoformat()
    unread = await (await client.get("/api/notifications?unread=true&limit=5", headers=headers)).json()
    assert [n["title"] for n in unread] == ["Reminder 1", "Reminder 0"]
    assert (await client.post(f"/api/notifications/{theirs.id}/read", headers=headers)).status == 404
    assert (await client.get("/api/notifications?limit=0", headers=headers)).status == 422


async def test_the_caller_sets_channels_quiet_hours_time_zone_and_phone(client, staff, sessions):
    headers = bearer(staff["agent"]["token"])
    assert await (await client.get("/api/users/me/notify", headers=headers)).json() == {
        "channels": ["console", "email"],
        "quiet_hours": None,
        "timezone": "UTC",
        "phone": None,
        "email": None,
    }
    wanted = {
        "channels": ["sms", "console", "sms"],
        "quiet_hours": {"start": "22:00", "end": "07:00"},
        "timezone": "Europe/London",
        "phone": "+44 7700 900123",
    }
    saved = await client.put("/api/users/me/notify", json=wanted, headers=headers)
    assert saved.status == 200, await saved.text()
    expected = {
        "channels": ["console", "sms"],
        "quiet_hours": {"start": "22:00", "end": "07:00"},
        "timezone": "Europe/London",
        "phone": "+447700900123",
        "email": None,
    }
    assert await saved.json() == expected
    assert await (await client.get("/api/users/me/notify", headers=headers)).json() == expected
    kept = await client.put("/api/users/me/notify", json={"channels": ["sms"]}, headers=headers)
    assert (await kept.json())["phone"] == "+447700900123"  # left out: unchanged
    async with sessions() as db:
        assert (await db.get(User, staff["agent"]["id"])).notify == {"channels": ["sms"], "timezone": "UTC"}


@pytest.mark.parametrize(
    "body",
    [
        {"channels": ["pager"]},
        {"timezone": "Mars/Olympus"},
        {"quiet_hours": {"start": "24:00", "end": "07:00"}},
        {"quiet_hours": {"start": "7:00", "end": "08:00"}},
        {"quiet_hours": {"start": "08:00", "end": "08:00"}},
        {"phone": "07700 900123"},
        {"phone": "+44 12"},
        {"channels": ["sms"], "phone": None},
    ],
)
async def test_invalid_preferences_are_refused_and_nothing_changes(client, staff, sessions, body):
    headers = bearer(staff["agent"]["token"])
    refused = await client.put("/api/users/me/notify", json=body, headers=headers)
    assert refused.status == 422, await refused.text()
    assert (await refused.json())["error"]["message"]
    async with sessions() as db:
        row = await db.get(User, staff["agent"]["id"])
        assert (row.notify, row.phone) == ({}, None)
