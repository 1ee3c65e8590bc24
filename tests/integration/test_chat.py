"""Web chat over socket.io, with real socket.io clients: customers on /chat, agents on /agent."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections import defaultdict
from typing import Any

import aiohttp
import pytest
import socketio
from pydantic import SecretStr
from sqlalchemy import select

from contact_center.app import create_app
from contact_center.db.models import (
    Conversation,
    CustomerIdentity,
    EmailOutbox,
    Message,
    SatisfactionRating,
    Ticket,
)
from contact_center.web.appkeys import EVENTS, ROUTING, SESSIONS, SETTINGS
from tests.conftest import bearer

HELLO = "Hello, I would like some help with my order please"


class Socket:
    """A real socket.io client on one namespace that keeps every event it receives."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.client = socketio.AsyncClient(reconnection=False)
        self.received: dict[str, list[Any]] = defaultdict(list)
        self.client.on("*", self._keep, namespace=namespace)

    async def _keep(self, event: str, data: Any = None) -> None:
        self.received[event].append(data)

    async def connect(self, http_client, auth: dict | None = None, headers: dict | None = None) -> Socket:
        await self.client.connect(
            str(http_client.make_url("/")),
            namespaces=[self.namespace],
            auth=auth,
            headers=headers or {},
            transports=["websocket"],
            wait_timeout=5,
        )
        return self

    async def call(self, event: str, data: Any = None) -> Any:
        return await self.client.call(
            event, data if data is not None else {}, namespace=self.namespace, timeout=10
        )

    async def wait_for(self, event: str, count: int = 1) -> list[Any]:
        for _ in range(200):
            if len(self.received[event]) >= count:
                return self.received[event]
            await asyncio.sleep(0.01)
        raise AssertionError(f"no {event!r} after 2 s; got {dict(self.received)}")

    async def close(self) -> None:
        await self.client.disconnect()


@pytest.fixture
async def sockets():
    """Sockets opened by a test, closed after it."""
    opened: list[Socket] = []

    async def open_socket(http_client, namespace: str = "/chat", **options) -> Socket:
        socket = await Socket(namespace).connect(http_client, **options)
        opened.append(socket)
        return socket

    yield open_socket
    for socket in opened:
        await socket.close()


async def settle(app) -> None:
    await app[ROUTING].flush()
    await app[EVENTS].drain()


async def agent_ready(client, staff, role: str = "agent") -> None:
    admin = bearer(staff["admin"]["token"])
    patched = await client.patch(f"/api/users/{staff[role]['id']}", json={"languages": ["en"]}, headers=admin)
    assert patched.status == 200, await patched.text()
    headers = bearer(staff[role]["token"])
    response = await client.post("/api/routing/presence", json={"presence": "available"}, headers=headers)
    assert response.status == 200, await response.text()


async def accept(client, staff, role: str = "agent") -> None:
    headers = bearer(staff[role]["token"])
    me = await (await client.get("/api/routing/me", headers=headers)).json()
    assert me["offer"], me
    response = await client.post(f"/api/routing/offers/{me['offer']}/accept", headers=headers)
    assert response.status == 200, await response.text()


async def started(client, sockets, **form) -> tuple[Socket, dict]:
    customer = await sockets(client)
    hello = await customer.call("hello")
    assert hello["ok"] and hello["offline"] is None, hello
    answer = await customer.call(
        "start", {"name": "Alice", "topic": "General question", "text": HELLO, **form}
    )
    assert answer["ok"], answer
    return customer, {**hello, **answer}


async def test_a_chat_is_routed_and_the_customer_and_agent_talk(client, staff, sockets):
    app = client.server.app
    await agent_ready(client, staff)
    customer, session = await started(client, sockets)
    assert session["token"].startswith("v1.") and session["topics"][0] == "General question"
    assert [m["text"] for m in session["messages"]] == [HELLO]
    await settle(app)
    await accept(client, staff)
    await settle(app)
    [joined] = await customer.wait_for("agent_joined")
    assert joined["name"]

    agent = await sockets(client, "/agent", auth={"token": staff["agent"]["token"]})
    conversation_id = session["conversation_id"]
    sent = await agent.call(
        "chat:send", {"conversation_id": conversation_id, "text": "Hi Alice, how can I help?"}
    )
    assert sent["ok"], sent
    await settle(app)
    [reply] = [m for m in await customer.wait_for("message", 2) if m["author"] == "agent"]
    assert reply["text"] == "Hi Alice, how can I help?"

    assert (await agent.call("chat:typing", {"conversation_id": conversation_id, "typing": True}))["ok"]
    await settle(app)
    assert (await customer.wait_for("typing"))[-1] == {"typing": True}
    assert (await customer.call("typing", {"typing": True}))["ok"]
    await settle(app)
    assert (await agent.wait_for("chat:typing"))[-1]["typing"] is True

    written = await customer.call("message", {"text": "It never arrived", "client_id": "m1"})
    assert written["ok"], written
    again = await customer.call("message", {"text": "It never arrived", "client_id": "m1"})  # a resend
    assert again["message"]["id"] == written["message"]["id"]
    await settle(app)
    texts = [m["text"] for m in await agent.wait_for("chat:message", 2)]
    assert texts == ["Hi Alice, how can I help?", "It never arrived"]  # each once, in every tab

    assert (await customer.call("read", {"message_id": reply["id"]}))["ok"]
    await settle(app)
    assert (await agent.wait_for("chat:read"))[-1]["message_id"] == reply["id"]
    async with app[SESSIONS]() as db:
        stored = await db.get(Message, reply["id"])
        task = (await db.get(Conversation, conversation_id)).task_id
    assert stored.attributes["read_at"]
    assert task is not None


async def test_a_reload_or_a_second_tab_resumes_the_chat_with_the_token(client, staff, sockets):
    app = client.server.app
    await agent_ready(client, staff)
    first, session = await started(client, sockets)
    second = await sockets(client, auth={"token": session["token"]})
    resumed = await second.call("hello")
    assert resumed["conversation_id"] == session["conversation_id"]
    assert [m["text"] for m in resumed["messages"]] == [HELLO]
    assert resumed["token"] == session["token"]
    await second.call("message", {"text": "From my other tab", "client_id": "t2"})
    await settle(app)
    for tab in (first, second):  # every tab shows every message
        assert "From my other tab" in [m["text"] for m in await tab.wait_for("message")]


async def test_a_forged_or_foreign_token_is_refused(client, sockets):
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sockets(client, auth={"token": "v1.somebody-else.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})


async def test_one_visitor_cannot_reach_another_visitors_chat(client, staff, sockets):
    await agent_ready(client, staff)
    _, alice = await started(client, sockets)
    mallory = await sockets(client)
    await mallory.call("hello")
    for event, data in (
        ("rate", {"conversation_id": alice["conversation_id"], "score": 1}),
        ("transcript", {"conversation_id": alice["conversation_id"]}),
    ):
        answer = await mallory.call(event, data)
        assert answer["ok"] is False and answer["error"] in ("not_found", "conflict"), answer
    assert (await mallory.call("message", {"text": "hi", "client_id": "x"}))["error"] == "not_found"


async def test_a_website_user_proven_by_hmac_is_linked_to_their_record(
    aiohttp_client, settings, clock, staff, sockets
):
    secret = "website-shared-secret"
    app = create_app(
        settings.model_copy(update={"chat_identity_secret": SecretStr(secret)}),
        clock=clock,
        tick_interval=None,
    )
    client = await aiohttp_client(app)
    await agent_ready(client, staff)
    proof = hmac.new(secret.encode(), b"user-42", hashlib.sha256).hexdigest()
    forged = await sockets(client)
    await forged.call("hello")
    refused = await forged.call(
        "start", {"name": "Bob", "text": HELLO, "user_id": "user-42", "user_hash": "0" * 64}
    )
    assert refused["ok"] is False and refused["error"] == "invalid"
    _, session = await started(client, sockets, user_id="user-42", user_hash=proof, email="bob@example.com")
    async with app[SESSIONS]() as db:
        conversation = await db.get(Conversation, session["conversation_id"])
        kinds = set(
            (
                await db.execute(
                    select(CustomerIdentity.kind, CustomerIdentity.value).where(
                        CustomerIdentity.customer_id == conversation.customer_id
                    )
                )
            ).all()
        )
    assert ("crm", "user-42") in kinds and ("email", "bob@example.com") in kinds


async def test_an_unproven_email_does_not_claim_someone_elses_record(client, staff, sockets):
    await agent_ready(client, staff)
    _, session = await started(client, sockets, email="ceo@example.com")
    async with client.server.app[SESSIONS]() as db:
        conversation = await db.get(Conversation, session["conversation_id"])
        kinds = {
            kind
            for (kind,) in await db.execute(
                select(CustomerIdentity.kind).where(CustomerIdentity.customer_id == conversation.customer_id)
            )
        }
    assert kinds == {"chat"}


async def test_messages_and_starts_are_rate_limited(client, staff, sockets, clock):
    await agent_ready(client, staff)
    customer, _ = await started(client, sockets)
    answers = [await customer.call("message", {"text": f"n{n}", "client_id": f"c{n}"}) for n in range(12)]
    assert [a["ok"] for a in answers].count(True) == 10
    assert answers[-1]["error"] == "rate_limited"
    clock.advance(seconds=10)  # 30 a minute: five more
    assert (await customer.call("message", {"text": "later", "client_id": "later"}))["ok"]

    refusals = []
    for _ in range(6):  # every socket here comes from the same address
        other = await sockets(client)
        await other.call("hello")
        answer = await other.call("start", {"name": "Eve", "text": HELLO})
        refusals.append(answer.get("error"))
    assert "rate_limited" in refusals


async def test_behind_a_trusted_proxy_each_visitor_address_has_its_own_chat_start_limit(
    aiohttp_client, settings, staff, sockets, clock
):
    from contact_center.app import create_app

    behind = await aiohttp_client(
        create_app(
            settings.model_copy(update={"trusted_proxies": "127.0.0.0/8"}), clock=clock, tick_interval=None
        )
    )
    await agent_ready(behind, staff)

    async def start_from(forwarded_for: str) -> str | None:
        visitor = await sockets(behind, headers={"X-Forwarded-For": forwarded_for})
        await visitor.call("hello")
        answer = await visitor.call("start", {"name": "Eve", "text": HELLO})
        return answer.get("error")

    assert [await start_from("203.0.113.7") for _ in range(6)][-1] == "rate_limited"  # one visitor over
    assert await start_from("203.0.113.8") is None  # another visitor behind the same proxy is not held up
    # a visitor cannot pick its own address: the proxy appends the real one, and that is what counts
    assert await start_from("198.51.100.1, 203.0.113.7") == "rate_limited"


async def test_with_nobody_to_chat_the_offline_form_becomes_a_ticket_and_an_email(
    aiohttp_client, settings, clock, sockets
):
    relayed = settings.model_copy(
        update={"email_address": "support@example.com", "smtp_relay_host": "127.0.0.1", "smtp_relay_port": 9}
    )
    client = await aiohttp_client(create_app(relayed, clock=clock, tick_interval=None))
    customer = await sockets(client)
    hello = await customer.call("hello")
    assert hello["offline"] == "no_agents"
    refused = await customer.call("start", {"name": "Carol", "text": HELLO})
    assert (refused["ok"], refused["error"]) == (False, "offline")
    left = await customer.call(
        "offline", {"name": "Carol", "email": "carol@example.com", "text": "Please call me back <b>soon</b>"}
    )
    assert left["ok"], left
    again = await customer.call(
        "offline", {"name": "Carol", "email": "carol@example.com", "text": "Please call me back <b>soon</b>"}
    )
    assert again["ticket_id"] == left["ticket_id"]  # a double submit is one ticket
    async with client.server.app[SESSIONS]() as db:
        ticket = await db.get(Ticket, left["ticket_id"])
        [mail] = (await db.execute(select(EmailOutbox))).scalars().all()
    assert ticket.description == "Please call me back <b>soon</b>"
    assert mail.recipient == "carol@example.com" and f"T-{ticket.id}" in mail.mime
    bad = await customer.call("offline", {"name": "Carol", "email": "not-an-address", "text": "x"})
    assert (bad["ok"], bad["error"]) == (False, "invalid") and "email" in bad["message"]


async def test_the_customer_rates_the_chat_and_may_change_the_rating(client, staff, sockets, clock):
    app = client.server.app
    await agent_ready(client, staff)
    customer, session = await started(client, sockets)
    conversation_id = session["conversation_id"]
    assert (await customer.call("end"))["conversation_id"] == conversation_id
    assert (await customer.call("rate", {"conversation_id": conversation_id, "score": 2}))["ok"]
    rated = await customer.call("rate", {"conversation_id": conversation_id, "score": 5, "comment": "Quick!"})
    assert rated["ok"]
    assert (await customer.call("rate", {"conversation_id": conversation_id, "score": 9}))[
        "error"
    ] == "invalid"
    async with app[SESSIONS]() as db:
        [rating] = (await db.execute(select(SatisfactionRating))).scalars().all()
        conversation = await db.get(Conversation, conversation_id)
    assert (rating.score, rating.comment) == (5, "Quick!")
    assert conversation.status == "closed"
    day = clock.now().date().isoformat()  # the report counts the rating once, at its latest score
    supervisor = bearer(staff["supervisor"]["token"])
    report = await client.get("/api/reports/intervals", params={"from": day, "to": day}, headers=supervisor)
    totals = (await report.json())["totals"]
    assert (totals["rated"], totals["satisfaction"]) == (1, 5.0)
    await settle(app)
    async with app[SESSIONS]() as db:
        assert (await db.get(Conversation, conversation_id)).routing_state == "abandoned"  # left the queue


async def test_agents_need_a_login_and_may_write_only_in_their_own_chats(client, staff, sockets):
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sockets(client, "/agent")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sockets(client, "/agent", auth={"token": "not-a-token"})
    await agent_ready(client, staff)
    _, session = await started(client, sockets)
    conversation_id = session["conversation_id"]
    agent = await sockets(client, "/agent", auth={"token": staff["agent"]["token"]})
    early = await agent.call("chat:send", {"conversation_id": conversation_id, "text": "not mine yet"})
    assert (early["ok"], early["error"]) == (False, "forbidden")
    await settle(client.server.app)
    await accept(client, staff)
    assert (await agent.call("chat:send", {"conversation_id": conversation_id, "text": "mine now"}))["ok"]
    supervisor = await sockets(client, "/agent", auth={"token": staff["supervisor"]["token"]})
    assert (await supervisor.call("chat:send", {"conversation_id": conversation_id, "text": "I help"}))["ok"]
    missing = await supervisor.call("chat:send", {"conversation_id": 99999, "text": "x"})
    assert missing["error"] == "not_found"
    assert (await agent.call("chat:send", "not an object"))["error"] == "invalid"


async def test_a_handshake_from_a_foreign_origin_is_refused(client, sockets):
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sockets(client, headers={"Origin": "https://evil.example"})
    ours = await sockets(client, headers={"Origin": "http://testserver"})
    assert (await ours.call("hello"))["ok"]


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def upload(client, token: str, name: str, data: bytes):
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    return await client.post("/chat/files", data=form, headers={"X-Chat-Token": token})


async def test_files_are_checked_by_content_limited_and_shown_only_to_those_who_may_see_the_chat(
    client, staff, sockets
):
    app = client.server.app
    await agent_ready(client, staff)
    customer, session = await started(client, sockets)
    token = session["token"]
    assert (await upload(client, "v1.forged.token", "a.png", PNG)).status == 403
    sent = await upload(client, token, "../../etc/My Photo!.png.exe", PNG)
    assert sent.status == 201, await sent.text()
    [file] = (await sent.json())["message"]["files"]
    assert (file["name"], file["type"]) == ("My_Photo_.png.png", "image/png")
    stored = list((app[SETTINGS].data_dir / "chat").rglob("*"))
    assert any(path.name.endswith("My_Photo_.png.png") for path in stored)
    assert all(app[SETTINGS].data_dir in path.parents for path in stored)  # never where the name said

    refused = await upload(client, token, "tool.exe", b"MZ\x90\x00\x03\x00\x00\x00" + b"\xff" * 600)
    assert refused.status == 422 and "only images" in (await refused.json())["error"]["message"]
    big = await upload(client, token, "big.txt", b"a" * (app[SETTINGS].chat_max_attachment_bytes + 1))
    assert big.status == 422 and "at most" in (await big.json())["error"]["message"]

    url = file["url"]
    own = await client.get(url, headers={"X-Chat-Token": token})
    assert own.status == 200 and await own.read() == PNG
    assert own.headers["Content-Type"] == "image/png"
    assert (await client.get(url)).status == 404
    stranger = await sockets(client)
    other_token = (await stranger.call("hello"))["token"]
    assert (await client.get(url, headers={"X-Chat-Token": other_token})).status == 404
    assert (await client.get(url, headers=bearer(staff["agent"]["token"]))).status == 404  # not theirs yet
    await settle(app)
    await accept(client, staff)
    await settle(app)
    assert (await client.get(url, headers=bearer(staff["agent"]["token"]))).status == 200
    assert (await client.get(url, headers=bearer(staff["supervisor"]["token"]))).status == 200
    assert any(m["files"] for m in await customer.wait_for("message"))
    statuses = [(await upload(client, token, f"n{n}.txt", b"note")).status for n in range(6)]
    assert statuses == [201, 201, 429, 429, 429, 429]  # 5 a burst, and 3 attempts were made above
