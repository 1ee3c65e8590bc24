"""The agent console's socket.io namespace /agent with real socket.io clients: offers with the screen-pop in
every tab, accept, reply, notes, wrap-up, transfer, and the grace period after a console closes."""

from __future__ import annotations

import asyncio

import pytest
import socketio
from sqlalchemy import select

from agent_ui.agent_namespace import CONSOLES
from agent_ui.agent_pushes import sweep
from contact_center.auth.sessions import issue_token
from contact_center.db.models import Conversation, Message, Ticket, WrapUpCode
from contact_center.intake import InboundContact
from contact_center.users import service
from contact_center.users.schemas import UserIn
from contact_center.web.appkeys import INTAKE, ROUTING
from tests.conftest import bearer
from tests.integration.test_chat import Socket, settle, sockets  # noqa: F401  (sockets is a fixture)
from tests.twilio_standin import OUR_NUMBER

CUSTOMER_PHONE = "+14155550123"


@pytest.fixture
async def console(twilio_client, staff, sessions, clock):
    """The app with Twilio's stand-in, a second agent, wrap-up codes, and agents who speak English."""
    client = twilio_client
    async with sessions.begin() as db:
        bob = await service.create_user(
            db,
            UserIn(username="bob", display_name="Bob Second", password="bob-password-1", role="agent"),
            clock.now(),
        )
        _, secret = await issue_token(db, bob, "tests", clock.now())
    staff["bob"] = {"id": bob.id, "token": secret}
    admin = bearer(staff["admin"]["token"])
    for user in (staff["agent"]["id"], bob.id):
        patched = await client.patch(f"/api/users/{user}", json={"languages": ["en"]}, headers=admin)
        assert patched.status == 200, await patched.text()
    async with sessions.begin() as db:
        db.add_all(
            [
                WrapUpCode(kind="disposition", code="resolved", label="Resolved", position=1),
                WrapUpCode(kind="disposition", code="retired", label="Old", position=2, active=False),
                WrapUpCode(kind="contact_reason", code="delivery", label="Delivery", position=1),
            ]
        )
    return client


async def agent_socket(client, sockets, staff, who: str = "agent") -> Socket:  # noqa: F811
    socket = await sockets(client, "/agent", auth={"token": staff[who]["token"]})
    await socket.wait_for("state")
    return socket


async def closed(socket: Socket, app, agent_id: int) -> None:
    """Close a console and wait until the server has counted it gone (a disconnect is handled async)."""
    await socket.close()
    consoles = app[CONSOLES]
    for _ in range(200):
        if await consoles.sockets.count(agent_id, consoles.clock.now().timestamp()) == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the server still counts the closed console")


async def available(socket: Socket) -> None:
    answer = await socket.call("presence:set", {"state": "available"})
    assert answer["ok"] and answer["presence"]["state"] == "available", answer


async def sms_contact(
    client, text: str = "Where is my order?", external_id: str = "SMtest1", phone: str = CUSTOMER_PHONE
) -> dict:
    """A customer's SMS through the same intake a webhook uses."""
    result = await client.server.app[INTAKE].receive(
        InboundContact(
            channel="sms",
            identities=[("phone", phone)],
            name="Ada Lovelace",
            text=text,
            external_id=external_id,
            language="en",
            attributes={"to": OUR_NUMBER},
        )
    )
    await settle(client.server.app)
    return result.__dict__


async def test_a_socket_without_a_login_is_refused(client):
    for auth in (None, {"token": "not-a-token"}):
        refused = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await refused.connect(
                str(client.make_url("/")), namespaces=["/agent"], auth=auth, transports=["websocket"]
            )


async def test_each_tab_rings_once_with_the_screen_pop_and_accepting_in_one_stops_both(
    console,
    staff,
    sockets,  # noqa: F811
):
    first, second = await agent_socket(console, sockets, staff), await agent_socket(console, sockets, staff)
    assert first.received["state"][0]["agent"]["id"] == staff["agent"]["id"]
    await available(first)
    contact = await sms_contact(console)

    offers = [(await tab.wait_for("offer"))[0] for tab in (first, second)]
    assert offers[0] == offers[1]
    offer = offers[0]
    assert offer["conversation_id"] == contact["conversation_id"] and offer["channel"] == "sms"
    pop = offer["customer"]
    assert pop["customer"]["display_name"] == "Ada Lovelace"
    assert [i["value"] for i in pop["identities"]] == [CUSTOMER_PHONE]
    assert pop["interactions"][0]["snippet"] == "Where is my order?"
    assert {"orders", "open_tickets", "notes", "possible_duplicates"} <= pop.keys()
    assert offer["timeout_seconds"] > 0 and offer["expires_at"] > offer["offered_at"]

    accepted = await first.call("offer:accept", {"reservation_id": offer["reservation_id"]})
    assert accepted["ok"], accepted
    assert accepted["conversation"]["routing_state"] == "assigned"
    assert accepted["conversation"]["agent_id"] == staff["agent"]["id"]
    await settle(console.server.app)
    for tab in (first, second):
        [ended] = await tab.wait_for("offer:ended")
        assert ended == {
            "reservation_id": offer["reservation_id"],
            "task_id": offer["task_id"],
            "reason": "accepted",
        }
        [assigned] = await tab.wait_for("conversation:assigned")
        assert assigned["id"] == contact["conversation_id"]
        assert len(tab.received["offer"]) == 1
    again = await second.call("offer:accept", {"reservation_id": offer["reservation_id"]})
    assert again["ok"] is False and again["error"] == "conflict"


async def test_accept_reply_note_and_wrap_up_with_a_ticket(console, staff, sockets, twilio, sessions):  # noqa: F811
    app = console.server.app
    agent, other_tab = (
        await agent_socket(console, sockets, staff),
        await agent_socket(console, sockets, staff),
    )
    await available(agent)
    contact = await sms_contact(console)
    [offer] = await agent.wait_for("offer")
    assert (await agent.call("offer:accept", {"reservation_id": offer["reservation_id"]}))["ok"]
    conversation_id = contact["conversation_id"]

    replied = await agent.call("reply", {"conversation_id": conversation_id, "text": "It ships today, Ada."})
    assert replied["ok"], replied
    assert replied["message"]["direction"] == "out" and replied["message"]["channel"] == "sms"
    assert [m["Body"] for m in twilio.messages()] == ["It ships today, Ada."]
    assert twilio.messages()[0]["To"] == CUSTOMER_PHONE

    noted = await agent.call(
        "note:add", {"conversation_id": conversation_id, "text": "Promised shipping today"}
    )
    assert noted["ok"] and noted["message"]["direction"] == "internal"
    await sms_contact(console, "Thanks! And the invoice?", external_id="SMtest2")
    await settle(app)
    pushed = await other_tab.wait_for("conversation:message", 3)
    assert [p["message"]["body"] for p in pushed] == [
        "It ships today, Ada.",
        "Promised shipping today",
        "Thanks! And the invoice?",
    ]
    assert len(twilio.messages()) == 1  # the note went nowhere

    opened = await other_tab.call("conversation:open", {"conversation_id": conversation_id})
    assert [m["direction"] for m in opened["messages"]] == ["in", "out", "internal", "in"]
    assert opened["customer"]["customer"]["display_name"] == "Ada Lovelace"

    refused = await agent.call("wrapup:submit", {"task_id": offer["task_id"], "disposition": "retired"})
    assert refused["ok"] is False and refused["error"] == "invalid" and "retired" in refused["message"]
    assert (await agent.call("task:complete", {"task_id": offer["task_id"]}))["ok"]
    await settle(app)
    [updated] = await agent.wait_for("conversation:updated")
    assert updated["routing_state"] == "wrapping" and updated["wrap_up_until"]

    ticket_form = {"category": "complaint", "subject": "Late delivery", "description": "Third time late"}
    wrap_up = {
        "task_id": offer["task_id"],
        "disposition": "resolved",
        "reason": "delivery",
        "note": "Shipping today",
    }
    wrapped = await agent.call("wrapup:submit", {**wrap_up, "ticket": ticket_form})
    assert wrapped["ok"], wrapped
    assert wrapped["conversation"]["disposition"] == "resolved"
    assert wrapped["ticket"]["reference"] == f"T-{wrapped['ticket']['id']}"
    again = await agent.call("wrapup:submit", {**wrap_up, "ticket": ticket_form})
    assert again["ok"] and again["ticket"]["id"] == wrapped["ticket"]["id"]  # one ticket, not two
    await settle(app)
    [removed] = await other_tab.wait_for("conversation:removed")
    assert removed["reason"] == "wrapped" and removed["conversation_id"] == conversation_id
    async with sessions() as db:
        conversation = await db.get(Conversation, conversation_id)
        tickets = list(
            (await db.execute(select(Ticket).where(Ticket.conversation_id == conversation_id))).scalars()
        )
        notes = list((await db.execute(select(Message).where(Message.direction == "internal"))).scalars())
    assert (conversation.disposition, conversation.contact_reason) == ("resolved", "delivery")
    assert conversation.wrap_up_note == "Shipping today" and conversation.routing_state == "done"
    assert [(t.category, t.priority, t.subject) for t in tickets] == [("complaint", "high", "Late delivery")]
    assert conversation.complaint and [n.body for n in notes] == ["Promised shipping today"]
    me = await app[ROUTING].agent_view(staff["agent"]["id"])
    assert me["tasks"] == {} and me["presence"] == "available"


async def test_an_agent_writes_only_in_their_own_conversations(console, staff, sockets):  # noqa: F811
    agent, bob = (
        await agent_socket(console, sockets, staff),
        await agent_socket(console, sockets, staff, "bob"),
    )
    await available(agent)
    contact = await sms_contact(console)
    [offer] = await agent.wait_for("offer")
    assert (await bob.call("offer:accept", {"reservation_id": offer["reservation_id"]}))[
        "error"
    ] == "forbidden"
    assert (await agent.call("offer:accept", {"reservation_id": offer["reservation_id"]}))["ok"]
    for event, payload in (
        ("reply", {"conversation_id": contact["conversation_id"], "text": "hi"}),
        ("note:add", {"conversation_id": contact["conversation_id"], "text": "hi"}),
        ("task:complete", {"task_id": offer["task_id"]}),
        ("wrapup:submit", {"task_id": offer["task_id"], "disposition": "resolved"}),
    ):
        answer = await bob.call(event, payload)
        assert answer["ok"] is False and answer["error"] in ("forbidden", "conflict"), (event, answer)
    bad = await agent.call("reply", {"conversation_id": "seven", "text": "hi"})
    assert bad["error"] == "invalid" and "conversation_id" in bad["message"]
    assert (await agent.call("reply", ["not", "an", "object"]))["error"] == "invalid"


async def test_transfer_to_a_colleague_carries_the_note(console, staff, sockets):  # noqa: F811
    app = console.server.app
    agent, bob = (
        await agent_socket(console, sockets, staff),
        await agent_socket(console, sockets, staff, "bob"),
    )
    await available(agent)
    contact = await sms_contact(console)
    [offer] = await agent.wait_for("offer")
    assert (await agent.call("offer:accept", {"reservation_id": offer["reservation_id"]}))["ok"]
    await available(bob)
    colleagues = await (
        await console.get("/api/routing/agents", headers=bearer(staff["agent"]["token"]))
    ).json()
    assert {"id": staff["bob"]["id"], "display_name": "Bob Second", "presence": "available"}.items() <= next(
        c for c in colleagues if c["id"] == staff["bob"]["id"]
    ).items()
    moved = await agent.call(
        "task:transfer",
        {"task_id": offer["task_id"], "agent_id": staff["bob"]["id"], "note": "Invoice question"},
    )
    assert moved["ok"], moved
    await settle(app)
    [removed] = await agent.wait_for("conversation:removed")
    assert removed == {
        "conversation_id": contact["conversation_id"],
        "task_id": offer["task_id"],
        "reason": "transferred",
    }
    [bobs] = await bob.wait_for("offer")
    assert (
        bobs["conversation_id"] == contact["conversation_id"] and bobs["transfer_note"] == "Invoice question"
    )
    assert (await agent.call("task:transfer", {"task_id": offer["task_id"], "note": "x"}))[
        "error"
    ] == "invalid"


async def test_a_reload_keeps_the_agent_and_leaving_hands_the_offer_on(console, staff, sockets, clock):  # noqa: F811
    app = console.server.app
    agent = await agent_socket(console, sockets, staff)
    await available(agent)
    await sms_contact(console)
    [offer] = await agent.wait_for("offer")
    assert (await agent.call("offer:accept", {"reservation_id": offer["reservation_id"]}))["ok"]

    await closed(
        agent, app, staff["agent"]["id"]
    )  # a reload: the socket goes, a new one comes within the grace period
    clock.advance(seconds=20)
    assert await sweep(app) == []
    reloaded = await agent_socket(console, sockets, staff)
    [state] = reloaded.received["state"]
    assert state["presence"]["state"] == "available"
    assert [c["id"] for c in state["conversations"]] == [offer["conversation_id"]]
    clock.advance(seconds=60)
    assert await sweep(app) == []  # connected again: nothing to do

    await closed(
        reloaded, app, staff["agent"]["id"]
    )  # really gone, with a second customer's contact offered to them
    second = await sms_contact(console, "Another question", external_id="SMother", phone="+14155550199")
    view = await app[ROUTING].agent_view(staff["agent"]["id"])
    assert view["offer"]
    bob = await agent_socket(console, sockets, staff, "bob")
    await available(bob)
    clock.advance(seconds=31)
    assert await sweep(app) == [staff["agent"]["id"]]
    await settle(app)
    assert (await app[ROUTING].agent_view(staff["agent"]["id"]))["presence"] == "offline"
    [handed_on] = await bob.wait_for("offer")  # the open offer went to the next agent
    assert handed_on["conversation_id"] == second["conversation_id"]
    state = await agent_socket(console, sockets, staff)
    assert [c["id"] for c in state.received["state"][0]["conversations"]] == [offer["conversation_id"]]


async def test_offers_made_together_are_read_together_and_each_agent_gets_their_own(
    console,
    staff,
    sockets,  # noqa: F811
    monkeypatch,
):
    from agent_ui import agent_views

    app, reads = console.server.app, []
    offer_views = agent_views.offer_views

    async def recorded(app, events):
        reads.append(len(events))
        return await offer_views(app, events)

    monkeypatch.setattr(agent_views, "offer_views", recorded)
    agent, bob = (
        await agent_socket(console, sockets, staff),
        await agent_socket(console, sockets, staff, "bob"),
    )
    await available(agent)
    await available(bob)
    customers = {"+14155550131": "Grace Hopper", "+14155550132": "Alan Turing"}
    contacts = [
        InboundContact(
            channel="sms",
            identities=[("phone", phone)],
            name=name,
            text=f"Hello, {name} here",
            external_id=f"SMt{n}",
            language="en",
        )
        for n, (phone, name) in enumerate(customers.items())
    ]
    results = await app[INTAKE].receive_many(contacts)
    await settle(app)
    offers = [(await socket.wait_for("offer"))[0] for socket in (agent, bob)]
    assert reads == [2]  # both offers came out of one batch of routing events: one read for both
    by_conversation = {offer["conversation_id"]: offer for offer in offers}
    assert by_conversation.keys() == {r.conversation_id for r in results}
    for result, name in zip(results, customers.values(), strict=True):
        pop = by_conversation[result.conversation_id]["customer"]
        assert pop["customer"]["display_name"] == name
        assert pop["interactions"][0]["snippet"] == f"Hello, {name} here"
    assert len(agent.received["offer"]) == len(bob.received["offer"]) == 1
