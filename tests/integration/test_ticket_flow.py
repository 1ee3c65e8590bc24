"""Tickets end to end on the whole app: a complaint arriving by chat climbs L1 -> L2 -> L3 on SLA breaches,
is resolved, the customer rates it 1 and it is reopened and escalated to a supervisor; plus the ticket API's
workflow, notes, fields and authorisation."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from contact_center.db.models import Notification, SlaPolicy, Ticket, TicketEscalation
from contact_center.web.appkeys import CLOCK, EVENTS, ROUTING, SESSIONS, TICKET_TIMERS
from tests.conftest import bearer
from tests.email_fixtures import email_client, email_settings, sink  # noqa: F401  (fixtures)
from tests.integration.test_chat import agent_ready, sockets, started  # noqa: F401  (fixture)

COMPLAINT = "This is unacceptable. My kettle broke after two days and I want to complain."


async def settle(app) -> None:
    await app[ROUTING].flush()
    await app[EVENTS].drain()
    await app[EVENTS].drain()


async def policy(app, **targets) -> None:
    async with app[SESSIONS].begin() as db:
        db.add(
            SlaPolicy(name="Complaints", position=1, category="complaint", warn_before_minutes=10, **targets)
        )


async def ticket_of(app) -> Ticket:
    async with app[SESSIONS]() as db:
        return (await db.execute(select(Ticket).order_by(Ticket.id.desc()).limit(1))).scalar_one()


async def test_a_chat_complaint_climbs_the_tiers_and_a_low_rating_brings_a_supervisor_back(
    client,
    staff,
    sockets,  # noqa: F811
    clock,
):
    app = client.server.app
    await policy(app, first_response_minutes=30, resolution_minutes=8 * 60)
    await agent_ready(client, staff)  # someone is there to chat (but nobody answers the complaint)
    customer, _ = await started(client, sockets, text=COMPLAINT)
    await settle(app)
    ticket = await ticket_of(app)
    assert (ticket.category, ticket.source, ticket.status, ticket.tier) == (
        "complaint",
        "classifier",
        "new",
        1,
    )
    timers = app[TICKET_TIMERS]

    clock.advance(minutes=21)  # the warning, ten minutes before the first response is due
    assert (await timers.run_once()).warned == 1
    clock.advance(minutes=10)
    first = await timers.run_once()
    assert (first.breached, first.escalated) == (1, 1)
    assert (await timers.run_once()).breached == 0  # a second pass finds nothing new
    clock.advance(minutes=31)  # the L2 response is late too
    assert (await timers.run_once()).escalated == 1
    ticket = await ticket_of(app)
    assert (ticket.status, ticket.tier) == ("escalated", 3)

    supervisor = bearer(staff["supervisor"]["token"])
    resolved = await client.post(
        f"/api/tickets/{ticket.id}/actions",
        json={"action": "resolve", "reason": "refund sent"},
        headers=supervisor,
    )
    assert resolved.status == 200, await resolved.text()
    await settle(app)
    survey = await customer.wait_for("message", 1)
    link = next(m["text"] for m in survey if "/survey/" in m.get("text", ""))
    path = re.search(r"/survey/\S+", link).group(0)
    inline = (await customer.wait_for("survey"))[0]  # the widget shows five buttons posting to the same page
    assert inline["ticket_id"] == ticket.id and inline["url"].endswith(path)
    page = await client.get(path)
    assert page.status == 200 and "How did we do?" in await page.text()
    answered = await client.post(path, json={"score": 1, "comment": "Still no kettle"})
    assert answered.status == 200, await answered.text()
    again = await client.post(path, json={"score": 5})
    assert again.status == 409  # answered once
    await settle(app)

    detail = await (await client.get(f"/api/tickets/{ticket.id}", headers=supervisor)).json()
    assert (detail["status"], detail["tier"]) == ("escalated", 3)
    steps = [(e["action"], e["to"]) for e in detail["history"] if e["action"] not in ("sla_warning",)]
    assert steps == [
        ("created", "new"),
        ("sla_breached", None),
        ("escalate", "escalated"),
        ("sla_breached", None),
        ("escalate", "escalated"),
        ("resolve", "resolved"),
        ("survey_sent", None),
        ("survey_answered", None),
        ("reopen", "reopened"),
        ("escalate", "escalated"),
    ]
    assert [s["score"] for s in detail["surveys"]] == [1]
    async with app[SESSIONS]() as db:
        causes = (
            (await db.execute(select(TicketEscalation.cause).order_by(TicketEscalation.id))).scalars().all()
        )
        told = (await db.execute(select(Notification.kind, Notification.user_id))).all()
    assert causes == ["sla:first_response:1", "sla:first_response:2", "survey:low:1"]
    assert ("escalated", staff["supervisor"]["id"]) in told  # the L3 tier tells the supervisors


@pytest.mark.parametrize("role", ["agent", "supervisor"])
async def test_the_ticket_api_runs_the_workflow_and_refuses_illegal_steps(client, staff, role):
    app = client.server.app
    headers = bearer(staff[role]["token"])
    customer = await client.post("/api/customers", json={"display_name": "Ana Lopez"}, headers=headers)
    assert customer.status == 201, await customer.text()
    customer_id = (await customer.json())["id"]
    created = await client.post(
        "/api/tickets",
        json={
            "customer_id": customer_id,
            "subject": "Broken kettle",
            "category": "repair",
            "assignee_id": staff[role]["id"],
            "tags": ["Kettle"],
        },
        headers=headers,
    )
    assert created.status == 201, await created.text()
    ticket = await created.json()
    assert ticket["status"] == "new" and ticket["tags"] == ["kettle"]
    path = f"/api/tickets/{ticket['id']}"
    refused = await client.post(f"{path}/actions", json={"action": "close"}, headers=headers)
    assert refused.status == 409 and "cannot be closed" in (await refused.json())["error"]["message"]
    no_reason = await client.post(f"{path}/actions", json={"action": "wait"}, headers=headers)
    assert no_reason.status == 409
    for action, reason in (("start", ""), ("wait", "asked for the receipt"), ("resume", "")):
        response = await client.post(
            f"{path}/actions", json={"action": action, "reason": reason}, headers=headers
        )
        assert response.status == 200, await response.text()
    note = await client.post(f"{path}/notes", json={"text": "Receipt <b>attached</b>"}, headers=headers)
    assert note.status == 201
    patched = await client.patch(path, json={"priority": "high"}, headers=headers)
    assert patched.status == 200
    detail = await patched.json()
    assert [e["action"] for e in detail["history"]] == [
        "created",
        "start",
        "wait",
        "resume",
        "note",
        "updated",
    ]
    assert detail["history"][4]["body"] == "Receipt <b>attached</b>"  # stored as written; pages escape it
    listed = await (await client.get("/api/tickets?assignee=me&status=open", headers=headers)).json()
    assert [t["id"] for t in listed["tickets"]] == [ticket["id"]]
    await app[EVENTS].drain()


async def test_agents_of_another_team_do_not_see_a_teams_ticket(client, staff, sessions, clock):
    from contact_center.db.models import Customer, Team

    async with sessions.begin() as db:
        other = Team(name="Back office", created_at=clock.now())
        customer = Customer(display_name="Bo", created_at=clock.now(), updated_at=clock.now())
        db.add_all([other, customer])
        await db.flush()
        db.add(
            Ticket(
                customer_id=customer.id,
                subject="Private",
                team_id=other.id,
                created_at=clock.now(),
                updated_at=clock.now(),
            )
        )
    agent, supervisor = bearer(staff["agent"]["token"]), bearer(staff["supervisor"]["token"])
    assert (await (await client.get("/api/tickets", headers=agent)).json())["tickets"] == []
    seen = (await (await client.get("/api/tickets", headers=supervisor)).json())["tickets"]
    assert [t["subject"] for t in seen] == ["Private"]
    for path in ("", "/articles", "/suggestions"):
        assert (await client.get(f"/api/tickets/{seen[0]['id']}{path}", headers=agent)).status == 404, path


async def test_a_routed_ticket_rings_in_the_console_and_its_taker_becomes_the_assignee(
    client,
    staff,
    sockets,  # noqa: F811
):
    app = client.server.app
    headers = bearer(staff["agent"]["token"])
    customer = await (
        await client.post("/api/customers", json={"display_name": "Ana"}, headers=headers)
    ).json()
    console = await sockets(client, "/agent", auth={"token": staff["agent"]["token"]})
    await agent_ready(client, staff)
    created = await client.post(
        "/api/tickets",
        json={"customer_id": customer["id"], "subject": "Refund for order 7", "category": "service_request"},
        headers=headers,
    )
    assert created.status == 201
    ticket = await created.json()
    assert ticket["queue"] == "general" and ticket["assignee_id"] is None  # routed to its first tier
    await settle(app)
    offer = (await console.wait_for("offer"))[0]
    assert (offer["channel"], offer["ticket_id"]) == ("ticket", ticket["id"])
    assert offer["customer"]["customer"]["display_name"] == "Ana"
    assert (await console.call("offer:accept", {"reservation_id": offer["reservation_id"]}))["ok"]
    await settle(app)
    assigned = (await console.wait_for("ticket:assigned"))[0]
    assert assigned["url"] == f"/tickets/{ticket['id']}"
    detail = await (await client.get(f"/api/tickets/{ticket['id']}", headers=headers)).json()
    assert (detail["assignee_id"], detail["status"]) == (staff["agent"]["id"], "open")
    assert [e["action"] for e in detail["history"]] == ["created", "assigned", "start"]
    resolved = await client.post(
        f"/api/tickets/{ticket['id']}/actions",
        json={"action": "resolve", "reason": "refunded"},
        headers=headers,
    )
    assert resolved.status == 200
    await settle(app)
    me = await (await client.get("/api/routing/me", headers=headers)).json()
    assert me["tasks"] == {}  # resolving the ticket ended its routing task: the agent is free again


async def test_an_sms_survey_is_answered_by_replying_a_number(twilio_client, twilio, staff):
    from channels.twilio_webhooks import INBOX
    from contact_center.db.models import Conversation, Message
    from tests.integration.test_sms import CUSTOMER, inbound

    app = twilio_client.app
    headers = bearer(staff["agent"]["token"])
    await inbound(twilio_client, "SM900", "My parcel never arrived")
    await app[INBOX].settled()
    await settle(app)
    async with app[SESSIONS]() as db:
        conversation = (await db.execute(select(Conversation))).scalar_one()
    created = await twilio_client.post(
        "/api/tickets",
        json={
            "customer_id": conversation.customer_id,
            "subject": "Lost parcel",
            "conversation_id": conversation.id,
            "assignee_id": staff["agent"]["id"],
        },
        headers=headers,
    )
    ticket = await created.json()
    resolved = await twilio_client.post(
        f"/api/tickets/{ticket['id']}/actions",
        json={"action": "resolve", "reason": "resent"},
        headers=headers,
    )
    assert resolved.status == 200
    await settle(app)
    asked = [m for m in twilio.messages() if m["To"] == CUSTOMER]
    assert "Reply with a number from 1 (poor) to 5 (great)" in asked[-1]["Body"]
    await inbound(twilio_client, "SM901", "1 - still nothing")
    await app[INBOX].settled()
    await settle(app)
    detail = await (await twilio_client.get(f"/api/tickets/{ticket['id']}", headers=headers)).json()
    assert detail["surveys"][0]["score"] == 1 and detail["surveys"][0]["comment"] == "still nothing"
    assert (detail["status"], detail["escalation_causes"]) == ("escalated", ["survey:low:1"])
    assert "customer_replied" not in [e["action"] for e in detail["history"]]  # the rating is no new contact
    day = app[CLOCK].now().date().isoformat()
    supervisor = bearer(staff["supervisor"]["token"])
    report = await twilio_client.get(
        "/api/reports/intervals", params={"from": day, "to": day, "by": "channel"}, headers=supervisor
    )
    [row] = [row for row in (await report.json())["rows"] if row["rated"]]
    assert (row["channel"], row["rated"], row["satisfaction"]) == ("sms", 1, 1.0)
    async with app[SESSIONS]() as db:
        answer = (await db.execute(select(Message).where(Message.external_id == "SM901"))).scalar_one()
        routed = await db.get(Conversation, conversation.id)
    assert answer.attributes["survey_answer"] is True
    assert routed.routing_state != "pending"  # kept in the conversation, not queued again


async def test_an_email_customer_gets_a_survey_link_and_rates_on_the_page(
    email_client,  # noqa: F811
    sink,  # noqa: F811
    staff,
):
    from contact_center.db.models import Conversation
    from tests.email_fixtures import CUSTOMER, deliver, mail

    app = email_client.app
    headers = bearer(staff["agent"]["token"])
    code, _ = await deliver(email_client, mail("My invoice is wrong, please correct it"))
    assert code == 250
    await settle(app)
    async with app[SESSIONS]() as db:
        conversation = (await db.execute(select(Conversation))).scalar_one()
    created = await email_client.post(
        "/api/tickets",
        json={
            "customer_id": conversation.customer_id,
            "subject": "Invoice",
            "conversation_id": conversation.id,
            "assignee_id": staff["agent"]["id"],
        },
        headers=headers,
    )
    ticket = await created.json()
    replied = await email_client.post(
        f"/api/tickets/{ticket['id']}/replies", json={"text": "Corrected, sorry!"}, headers=headers
    )
    assert replied.status == 201, await replied.text()
    resolved = await email_client.post(
        f"/api/tickets/{ticket['id']}/actions",
        json={"action": "resolve", "reason": "corrected"},
        headers=headers,
    )
    assert resolved.status == 200
    await settle(app)
    from channels import email_outbound

    await email_outbound.drain(app)
    survey = next(m for m in sink.messages() if "How did we do? [T-" in m["Subject"])
    assert survey["To"] == CUSTOMER
    path = re.search(r"/survey/\S+", survey.get_content()).group(0)
    form = await email_client.get(path)
    assert form.status == 200 and 'name="score"' in await form.text()
    thanks = await email_client.post(path, data={"score": "5", "comment": "Quick, thanks"})
    assert thanks.status == 200 and "Thank you" in await thanks.text()
    forged = await email_client.get(path[:-3] + "abc")
    assert forged.status == 404
    for odd in ("/survey/%C2%B2.abc", "/survey/%E2%82%AC", "/survey/1"):
        assert (await email_client.get(odd)).status == 404, odd
    assert (await email_client.post(path, json=[1])).status == 400
    detail = await (await email_client.get(f"/api/tickets/{ticket['id']}", headers=headers)).json()
    assert (
        detail["status"] == "resolved" and detail["surveys"][0]["score"] == 5
    )  # a good score changes nothing
    assert detail["first_responded_at"] is not None  # the reply answered the customer


async def test_conversations_accepted_together_hand_each_agent_their_own_unheld_linked_tickets(
    client, staff, sessions, clock
):
    from contact_center.db.models import Conversation, Customer, Ticket, TicketConversation
    from contact_center.web.appkeys import TICKETS

    now = clock.now()
    async with sessions.begin() as db:
        customer = Customer(display_name="Ana", created_at=now, updated_at=now)
        db.add(customer)
        await db.flush()
        conversations = [
            Conversation(
                customer_id=customer.id,
                channel="sms",
                task_id=f"convtask{n}",
                started_at=now,
                last_activity_at=now,
            )
            for n in range(3)
        ]
        db.add_all(conversations)
        await db.flush()
        unheld = Ticket(customer_id=customer.id, subject="Refund", created_at=now, updated_at=now)
        held = Ticket(
            customer_id=customer.id,
            subject="Held",
            created_at=now,
            updated_at=now,
            assignee_id=staff["supervisor"]["id"],
        )
        db.add_all([unheld, held])
        await db.flush()
        db.add_all(
            [
                TicketConversation(ticket_id=unheld.id, conversation_id=conversations[0].id, linked_at=now),
                TicketConversation(ticket_id=held.id, conversation_id=conversations[1].id, linked_at=now),
            ]
        )
    agent, supervisor = staff["agent"]["id"], staff["supervisor"]["id"]
    accepted = [("convtask0", agent), ("convtask1", agent), ("convtask2", supervisor), ("nosuchtask", agent)]
    await client.server.app[TICKETS].conversations_accepted(accepted)
    async with sessions() as db:
        assignees = dict((await db.execute(select(Ticket.subject, Ticket.assignee_id))).all())
    assert assignees == {"Refund": agent, "Held": supervisor}  # a held ticket stays with its holder
