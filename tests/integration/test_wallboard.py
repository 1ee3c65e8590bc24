"""The supervisors' wallboard over /wallboard with real socket.io clients: who may connect, the snapshot,
deltas after a contact is queued and answered, and the supervisor's actions (agent state, whisper, transfer,
reading a live conversation)."""

from __future__ import annotations

import asyncio

import pytest
import socketio

from tests.conftest import bearer
from tests.integration.test_chat import Socket, settle, sockets  # noqa: F401  (sockets is a fixture)


async def board_socket(client, sockets, staff, who: str = "supervisor") -> Socket:  # noqa: F811
    socket = await sockets(client, "/wallboard", auth={"token": staff[who]["token"]})
    await socket.wait_for("wallboard:snapshot")
    return socket


async def until(check, seconds: float = 3.0):
    """Poll `check()` until it returns something true (the board pushes at most 4 times a second)."""
    for _ in range(int(seconds / 0.02)):
        value = check()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError("the wallboard did not show the change in time")


async def boards_computed(client) -> float:
    """The process's count of boards computed, from /metrics."""
    metrics = await (await client.get("/metrics")).text()
    [line] = [row for row in metrics.splitlines() if row.startswith("cc_wallboard_boards_computed_total")]
    return float(line.split()[-1])


def merged(socket: Socket) -> dict:
    """The board as a client holds it: the last snapshot with every later delta applied."""
    state: dict = {"queues": {}, "agents": {}}
    events = [("s", e) for e in socket.received["wallboard:snapshot"]]
    events += [("d", e) for e in socket.received["wallboard:delta"]]
    for kind, event in sorted(events, key=lambda item: item[1]["at"]):
        if kind == "s":
            state = {"queues": {}, "agents": {}}
        state["queues"].update(event.get("queues", {}))
        state["agents"].update(event.get("agents", {}))
        for section in ("summary", "alerts"):
            if section in event:
                state[section] = event[section]
    return state


async def test_only_supervisors_and_admins_may_open_the_wallboard(client, staff, sockets):  # noqa: F811
    for who in ("agent",):
        with pytest.raises(socketio.exceptions.ConnectionError):
            await Socket("/wallboard").connect(client, auth={"token": staff[who]["token"]})
    with pytest.raises(socketio.exceptions.ConnectionError):
        await Socket("/wallboard").connect(client)
    admin = await board_socket(client, sockets, staff, "admin")
    snapshot = admin.received["wallboard:snapshot"][0]
    assert "general/all" in snapshot["queues"] and snapshot["summary"]["waiting"] == 0


async def test_a_queued_then_answered_contact_reaches_the_board_as_deltas(client, staff, sockets, clock):  # noqa: F811
    board = await board_socket(client, sockets, staff)
    supervisor, agent = bearer(staff["supervisor"]["token"]), bearer(staff["agent"]["token"])
    created = await client.post(
        "/api/contacts",
        headers=supervisor,
        json={"channel": "voice", "identities": [["phone", "+14155550177"]], "queue": "general"},
    )
    assert created.status == 201
    await settle(client.server.app)
    row = await until(
        lambda: merged(board)["queues"].get("general/voice", {}).get("waiting") == 1 and merged(board)
    )
    assert row["summary"]["waiting"] == 1
    assert board.received["wallboard:delta"], "changes come as deltas after the first snapshot"
    clock.advance(seconds=8)
    await client.post("/api/routing/presence", json={"presence": "available"}, headers=agent)
    me = await (await client.get("/api/routing/me", headers=agent)).json()
    assert (await client.post(f"/api/routing/offers/{me['offer']}/accept", headers=agent)).status == 200
    await settle(client.server.app)
    state = await until(
        lambda: merged(board)["queues"]["general/all"]["today"]["answered"] == 1 and merged(board)
    )
    today = state["queues"]["general/all"]["today"]
    assert today["offered"] == 1 and today["service_level"] == 1.0 and today["average_speed_of_answer"] == 8.0
    assert state["queues"]["general/all"]["waiting"] == 0
    me_on_board = state["agents"][str(staff["agent"]["id"])]
    assert me_on_board["state"] == "busy" and me_on_board["contacts"] == 1 and me_on_board["name"] == "Agent"


async def test_a_supervisor_sets_an_agents_state_and_whispers_to_them(client, staff, sockets):  # noqa: F811
    board = await board_socket(client, sockets, staff)
    console = await sockets(client, "/agent", auth={"token": staff["agent"]["token"]})
    await console.wait_for("state")
    answer = await board.call("agent:presence", {"agent_id": staff["agent"]["id"], "state": "available"})
    assert answer["ok"], answer
    await settle(client.server.app)
    await until(
        lambda: merged(board)["agents"].get(str(staff["agent"]["id"]), {}).get("state") == "available"
    )
    whispered = await board.call(
        "whisper", {"agent_id": staff["agent"]["id"], "text": "<b>Offer the discount</b>"}
    )
    assert whispered["ok"]
    [whisper] = await console.wait_for("whisper")
    assert whisper["text"] == "<b>Offer the discount</b>" and whisper["from"] == "Supervisor"
    refused = await board.call("whisper", {"agent_id": 99999, "text": "hello"})
    assert refused == {"ok": False, "error": "not_found", "message": "agent 99999 does not exist"}
    invalid = await board.call("agent:presence", {"agent_id": staff["agent"]["id"], "state": "dancing"})
    assert invalid["ok"] is False and invalid["error"] == "invalid"


async def test_a_supervisor_reads_a_live_conversation_and_moves_it_to_another_queue(client, staff, sockets):  # noqa: F811
    admin, supervisor = bearer(staff["admin"]["token"]), bearer(staff["supervisor"]["token"])
    assert (await client.post("/api/queues", json={"name": "billing"}, headers=admin)).status == 201
    created = await client.post(
        "/api/contacts",
        headers=supervisor,
        json={
            "channel": "sms",
            "identities": [["phone", "+14155550178"]],
            "queue": "general",
            "text": "Hi there",
        },
    )
    contact = await created.json()
    agent = bearer(staff["agent"]["token"])
    await client.patch(f"/api/users/{staff['agent']['id']}", json={"languages": ["en"]}, headers=admin)
    await client.post("/api/routing/presence", json={"presence": "available"}, headers=agent)
    me = await (await client.get("/api/routing/me", headers=agent)).json()
    assert (await client.post(f"/api/routing/offers/{me['offer']}/accept", headers=agent)).status == 200
    board = await board_socket(client, sockets, staff)
    watched = await board.call("conversation:watch", {"conversation_id": contact["conversation_id"]})
    assert watched["ok"] and [m["body"] for m in watched["messages"]] == ["Hi there"]
    moved = await board.call(
        "task:transfer", {"task_id": contact["task_id"], "queue": "billing", "note": "billing"}
    )
    assert moved["ok"], moved
    await settle(client.server.app)
    await until(lambda: merged(board)["queues"].get("billing/sms", {}).get("waiting") == 1)
    missing = await board.call("conversation:watch", {"conversation_id": 424242})
    assert missing["ok"] is False and missing["error"] == "not_found"


async def test_wallboards_connecting_together_share_one_computed_board(client, staff, sockets):  # noqa: F811
    before = await boards_computed(client)
    boards = await asyncio.gather(
        *(sockets(client, "/wallboard", auth={"token": staff["supervisor"]["token"]}) for _ in range(20))
    )
    snapshots = [(await board.wait_for("wallboard:snapshot"))[0] for board in boards]
    assert all(snapshot == snapshots[0] for snapshot in snapshots)
    assert await boards_computed(client) - before == 1  # not once per socket
