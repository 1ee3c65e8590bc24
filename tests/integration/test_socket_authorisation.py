"""Every socket.io event, checked against who may send it: the tables below list each event of /agent and
/wallboard (a new event fails the test until it is listed), and each /agent event is tried by an agent of
another team on the first agent's conversation, task and offer: refused, and nothing changes."""

from __future__ import annotations

import pytest
import socketio

from agent_ui.agent_namespace import AgentNamespace
from agent_ui.wallboard_namespace import WallboardNamespace
from tests.conftest import bearer
from tests.integration.test_agent_console import agent_socket, available, console, sms_contact  # noqa: F401
from tests.integration.test_chat import Socket, sockets  # noqa: F401  (a fixture)

# event -> who may send it, on whose objects
AGENT_EVENTS = {
    "state": "any connected user: their own state",
    "presence:set": "routed users: their own presence",
    "offer:accept": "the agent the offer was made to",
    "offer:reject": "the agent the offer was made to",
    "conversation:open": "any agent: the customer record is open to every agent (by design)",
    "reply": "the conversation's agent; supervisors and admins",
    "note:add": "the conversation's agent; supervisors and admins",
    "typing": "the conversation's agent; supervisors and admins",
    "read": "the conversation's agent; supervisors and admins",
    "task:complete": "the task's agent; supervisors and admins",
    "wrapup:submit": "the task's agent; supervisors and admins",
    "task:transfer": "the task's agent; supervisors and admins",
    "chat:send": "as reply",
    "chat:typing": "as typing",
    "chat:read": "as read",
}
WALLBOARD_EVENTS = {
    "agent:presence": "supervisors and admins (only they can connect)",
    "task:transfer": "supervisors and admins",
    "whisper": "supervisors and admins",
    "conversation:watch": "supervisors and admins",
    "conversation:unwatch": "supervisors and admins",
}


def handled_events(namespace: type) -> set[str]:
    names = {name.removeprefix("on_") for name in vars(namespace) if name.startswith("on_")}
    names -= {"connect", "disconnect"}
    return {name.replace("_", ":", 1) if name.count("_") else name for name in names}


def test_every_socket_event_is_in_the_tables():
    assert handled_events(AgentNamespace) == set(AGENT_EVENTS)
    assert handled_events(WallboardNamespace) == set(WALLBOARD_EVENTS)


@pytest.fixture
async def other_team(console, staff):  # noqa: F811
    """Bob, moved to a team of his own."""
    admin = bearer(staff["admin"]["token"])
    team = await (await console.post("/api/teams", json={"name": "Night shift"}, headers=admin)).json()
    moved = await console.patch(
        f"/api/users/{staff['bob']['id']}", json={"team_id": team["id"]}, headers=admin
    )
    assert moved.status == 200, await moved.text()
    return console


async def test_an_agent_of_another_team_can_do_nothing_to_anothers_work(other_team, staff, sockets):  # noqa: F811
    console_ = other_team
    agent = await agent_socket(console_, sockets, staff)
    bob = await agent_socket(console_, sockets, staff, "bob")
    await available(agent)
    contact = await sms_contact(console_)
    [offer] = await agent.wait_for("offer")
    conversation, task = contact["conversation_id"], offer["task_id"]
    for event in ("offer:accept", "offer:reject"):
        answer = await bob.call(event, {"reservation_id": offer["reservation_id"]})
        assert answer["ok"] is False and answer["error"] == "forbidden", (event, answer)
    assert (await agent.call("offer:accept", {"reservation_id": offer["reservation_id"]}))["ok"]
    attempts = {
        "reply": {"conversation_id": conversation, "text": "hi"},
        "chat:send": {"conversation_id": conversation, "text": "hi"},
        "note:add": {"conversation_id": conversation, "text": "hi"},
        "typing": {"conversation_id": conversation, "typing": True},
        "chat:typing": {"conversation_id": conversation, "typing": True},
        "read": {"conversation_id": conversation, "message_id": 1},
        "chat:read": {"conversation_id": conversation, "message_id": 1},
        "task:transfer": {"task_id": task, "agent_id": staff["bob"]["id"], "note": "mine now"},
        "task:complete": {"task_id": task},
        "wrapup:submit": {"task_id": task, "disposition": "resolved"},
    }
    assert set(attempts) | {
        "state",
        "presence:set",
        "offer:accept",
        "offer:reject",
        "conversation:open",
    } == set(AGENT_EVENTS)
    for event, payload in attempts.items():
        answer = await bob.call(event, payload)
        assert answer["ok"] is False and answer["error"] in ("forbidden", "conflict"), (event, answer)
    me = await (await console_.get("/api/routing/me", headers=bearer(staff["agent"]["token"]))).json()
    assert list(me["tasks"]) == [task]  # still the first agent's, nothing transferred or completed
    opened = await bob.call("conversation:open", {"conversation_id": conversation})
    assert opened["ok"]  # by design: any agent may read a customer's record and history


async def test_the_wallboard_refuses_agents_and_strangers(client, staff, sockets):  # noqa: F811
    for auth in ({"token": staff["agent"]["token"]}, None, {"token": "cct_forged"}):
        with pytest.raises(socketio.exceptions.ConnectionError):
            await Socket("/wallboard").connect(client, auth=auth)
