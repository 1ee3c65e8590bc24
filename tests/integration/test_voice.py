"""Voice through Twilio at Twilio's edge: signed webhooks in, TwiML out, REST calls to the stand-in."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import jwt
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from channels import voice
from channels.twilio_webhooks import INBOX
from contact_center.app import create_app
from contact_center.db.models import Conversation, Message, Ticket, VoiceCall
from contact_center.web.appkeys import ENGINE, EVENTS, ROUTING, SESSIONS
from tests.conftest import another_process, bearer
from tests.twilio_standin import ACCOUNT_SID, OUR_NUMBER, PUBLIC_URL, signature, signed_post

CALLER = "+14155550100"


def parse(text: str) -> ET.Element:
    root = ET.fromstring(text)  # noqa: S314 (our own TwiML)
    assert root.tag == "Response"
    return root


async def post(client, path: str, **form: str):
    response = await signed_post(client, path, form)
    assert response.status in (200, 204), (path, response.status, await response.text())
    return parse(await response.text()) if response.status == 200 else None


async def count(app, model) -> int:
    async with app[SESSIONS]() as db:
        return (await db.execute(select(func.count()).select_from(model))).scalar_one()


async def settle(app) -> None:
    """Let routing store and publish its events, and the handlers run."""
    await app[ROUTING].flush()
    await app[EVENTS].drain()


async def call_into_queue(client, call_sid: str, caller: str = CALLER, digit: str = "1") -> ET.Element:
    await post(client, "/twilio/voice", CallSid=call_sid, From=caller, To=OUR_NUMBER)
    await post(client, "/twilio/voice/language", CallSid=call_sid, Digits="1")
    return await post(client, "/twilio/voice/menu?menu=main&attempt=1", CallSid=call_sid, Digits=digit)


async def available(client, staff, role: str = "agent") -> None:
    """The agent speaks English (the caller's language) and is ready."""
    patched = await client.patch(
        f"/api/users/{staff[role]['id']}", json={"languages": ["en"]}, headers=bearer(staff["admin"]["token"])
    )
    assert patched.status == 200, await patched.text()
    response = await client.post(
        "/api/routing/presence", json={"presence": "available"}, headers=bearer(staff[role]["token"])
    )
    assert response.status == 200, await response.text()


async def accept_offer(client, staff, role: str = "agent") -> dict:
    me = await (await client.get("/api/routing/me", headers=bearer(staff[role]["token"]))).json()
    assert me["offer"], me
    response = await client.post(
        f"/api/routing/offers/{me['offer']}/accept", headers=bearer(staff[role]["token"])
    )
    assert response.status == 200, await response.text()
    return me


def assert_bridged(twilio, call_sid: str, agent_id: int) -> str:
    """The caller was moved into the call's conference and the agent's softphone dialled into it."""
    updates = twilio.call_updates(call_sid)
    assert len(updates) == 1
    caller = parse(updates[-1]["Twiml"]).find("Dial/Conference")
    assert caller.get("endConferenceOnExit") == "true" and caller.get("startConferenceOnEnter") == "false"
    legs = [leg for leg in twilio.calls_created() if leg["To"] == f"client:agent-{agent_id}"]
    assert legs, twilio.calls_created()
    assert parse(legs[-1]["Twiml"]).find("Dial/Conference").text == caller.text
    return caller.text


async def test_a_call_is_greeted_and_offered_the_languages(twilio_client):
    root = await post(twilio_client, "/twilio/voice", CallSid="CA1", From=CALLER, To=OUR_NUMBER)
    gather = root.find("Gather")
    assert gather is not None and gather.get("action") == "/twilio/voice/language"
    assert "For English, press 1." in [say.text for say in gather.iter("Say")]


async def test_unsigned_and_tampered_webhooks_are_refused(twilio_client):
    form = {"AccountSid": ACCOUNT_SID, "CallSid": "CA2", "From": CALLER, "To": OUR_NUMBER}
    unsigned = await twilio_client.post("/twilio/voice", data=form)
    assert unsigned.status == 403
    good = signature(PUBLIC_URL + "/twilio/voice", form)
    tampered = await twilio_client.post(
        "/twilio/voice", data={**form, "From": "+19995550100"}, headers={"X-Twilio-Signature": good}
    )
    assert tampered.status == 403
    wrong_url = signature("http://evil.example/twilio/voice", form)
    elsewhere = await twilio_client.post(
        "/twilio/voice", data=form, headers={"X-Twilio-Signature": wrong_url}
    )
    assert elsewhere.status == 403
    assert await count(twilio_client.app, VoiceCall) == 0


async def test_forwarded_headers_count_only_from_a_trusted_proxy(aiohttp_client, twilio_settings, clock):
    form = {"AccountSid": ACCOUNT_SID, "CallSid": "CA8", "From": CALLER, "To": OUR_NUMBER}
    headers = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "cc.example.com",
        "X-Twilio-Signature": signature("https://cc.example.com/twilio/voice", form),
    }
    untrusted = await aiohttp_client(create_app(twilio_settings, clock=clock, tick_interval=None))
    assert (await untrusted.post("/twilio/voice", data=form, headers=headers)).status == 403
    trusting = another_process(twilio_settings).model_copy(update={"trusted_proxies": "127.0.0.0/8,::1"})
    behind_proxy = await aiohttp_client(create_app(trusting, clock=clock, tick_interval=None))
    assert (await behind_proxy.post("/twilio/voice", data=form, headers=headers)).status == 200


async def test_without_twilio_configured_every_webhook_is_refused(client):
    form = {"CallSid": "CA3", "From": CALLER}
    response = await client.post(
        "/twilio/voice",
        data=form,
        headers={"X-Twilio-Signature": signature(PUBLIC_URL + "/twilio/voice", form)},
    )
    assert response.status == 403


async def test_the_same_call_twice_is_one_conversation(twilio_client):
    for _ in range(2):
        await post(twilio_client, "/twilio/voice", CallSid="CA4", From=CALLER, To=OUR_NUMBER)
    app = twilio_client.app
    assert await count(app, VoiceCall) == 1
    assert await count(app, Conversation) == 1
    assert await count(app, Message) == 1


async def test_a_known_caller_is_greeted_by_name_as_it_is_now(twilio_client, staff):
    def said(root) -> str:
        return "".join(say.text or "" for say in root.iter("Say"))

    app, agent = twilio_client.app, bearer(staff["agent"]["token"])
    first = await post(twilio_client, "/twilio/voice", CallSid="CA4", From=CALLER, To=OUR_NUMBER)
    assert "Hello again" not in said(first)  # a new caller: a customer without a name, kept so
    async with app[SESSIONS]() as db:
        customer_id = (await db.execute(select(Conversation.customer_id))).scalar_one()
    for n, name in enumerate(("Alice", "Alicia"), 5):
        renamed = await twilio_client.patch(
            f"/api/customers/{customer_id}", json={"given_name": name}, headers=agent
        )
        assert renamed.status == 200, await renamed.text()
        await app[EVENTS].drain()
        root = await post(twilio_client, "/twilio/voice", CallSid=f"CA{n}", From=CALLER, To=OUR_NUMBER)
        assert f"Hello again, {name}." in said(root)


async def test_speech_picks_an_option_and_a_complaint_raises_priority(twilio_client):
    await post(twilio_client, "/twilio/voice", CallSid="CA6", From=CALLER, To=OUR_NUMBER)
    await post(twilio_client, "/twilio/voice/language", CallSid="CA6", Digits="1")
    root = await post(
        twilio_client,
        "/twilio/voice/menu?menu=main&attempt=1",
        CallSid="CA6",
        SpeechResult="I want to complain",
    )
    assert root.find("Gather").get("action") == "/twilio/voice/wait/choice"
    async with twilio_client.app[SESSIONS]() as db:
        conversation = (await db.execute(select(Conversation))).scalar_one()
    assert conversation.complaint and conversation.priority > 0
    assert conversation.routing_state in ("queued", "pending")


async def test_unrecognised_input_repeats_the_menu_then_queues(twilio_client):
    await post(twilio_client, "/twilio/voice", CallSid="CA7", From=CALLER, To=OUR_NUMBER)
    await post(twilio_client, "/twilio/voice/language", CallSid="CA7", Digits="1")
    again = await post(twilio_client, "/twilio/voice/menu?menu=main&attempt=1", CallSid="CA7", Digits="7")
    assert "Sorry, I did not get that." in [say.text for say in again.iter("Say")]
    assert again.find("Gather").get("action").endswith("attempt=2")
    last = await post(twilio_client, "/twilio/voice/menu?menu=main&attempt=3", CallSid="CA7", Digits="7")
    assert last.find("Gather").get("action") == "/twilio/voice/wait/choice"


async def test_end_to_end_the_agent_is_bridged_and_an_abandoned_caller_is_counted(
    twilio_client, twilio, staff
):
    app = twilio_client.app
    admin = bearer(staff["admin"]["token"])
    queue = {"name": "billing", "channels": ["voice"], "required_skills": {"billing": 3}}
    assert (await twilio_client.post("/api/queues", json=queue, headers=admin)).status == 201
    skills = {"skills": {"billing": 5}}
    assert (
        await twilio_client.patch(f"/api/users/{staff['agent']['id']}", json=skills, headers=admin)
    ).status == 200
    await available(twilio_client, staff)
    wait = await call_into_queue(twilio_client, "CA10", digit="1")  # 1: billing
    assert wait.find("Redirect").text == "/twilio/voice/wait"
    await settle(app)
    async with app[SESSIONS]() as db:
        queued = (await db.execute(select(Conversation))).scalar_one()
    task = await app[ROUTING].engine.store.get_task(queued.task_id)
    assert task.queue == "billing" and task.channel == "voice"
    assert [(t.queue, dict(t.skills), t.language) for t in task.targets] == [
        ("billing", {"billing": 3}, "en")
    ]
    offer = await accept_offer(twilio_client, staff)
    await settle(app)
    assert_bridged(twilio, "CA10", staff["agent"]["id"])
    async with app[SESSIONS]() as db:
        conversation = (await db.execute(select(Conversation))).scalar_one()
    assert conversation.task_id in offer["tasks"] or conversation.routing_state == "assigned"

    # A second caller waits (the agent is on a call: voice is exclusive), hears their place, hangs up.
    wait = await call_into_queue(twilio_client, "CA11", caller="+14155550111")
    says = [say.text for say in wait.iter("Say")]
    assert "You are number 1 in line." in says
    await post(
        twilio_client, "/twilio/voice/status", CallSid="CA11", CallStatus="completed", CallDuration="42"
    )
    await settle(app)
    figures = app[ROUTING].statistics.queues["billing"]
    assert figures.abandoned == 1
    async with app[SESSIONS]() as db:
        call = (await db.execute(select(VoiceCall).where(VoiceCall.call_sid == "CA11"))).scalar_one()
        abandoned = await db.get(Conversation, call.conversation_id)
    assert call.status == "completed" and call.duration_seconds == 42
    assert abandoned.routing_state == "abandoned"
    # The retried status callback changes nothing twice.
    await post(
        twilio_client, "/twilio/voice/status", CallSid="CA11", CallStatus="completed", CallDuration="42"
    )
    await settle(app)
    assert figures.abandoned == 1


async def test_a_callback_keeps_the_place_and_calls_the_customer_back(twilio_client, twilio, staff):
    app = twilio_client.app
    await call_into_queue(twilio_client, "CA20")
    goodbye = await post(twilio_client, "/twilio/voice/wait/choice", CallSid="CA20", Digits="1")
    assert "ending in 0100" in " ".join(say.text for say in goodbye.iter("Say"))
    assert goodbye.find("Hangup") is not None
    await post(twilio_client, "/twilio/voice/status", CallSid="CA20", CallStatus="completed")
    await settle(app)
    async with app[SESSIONS]() as db:
        conversation = (await db.execute(select(Conversation))).scalar_one()
    assert conversation.routing_state == "queued"  # still in line
    await available(twilio_client, staff)
    await settle(app)
    await accept_offer(twilio_client, staff)
    await settle(app)
    customer_leg, agent_leg = twilio.calls_created()
    assert customer_leg["To"] == CALLER and customer_leg["From"] == OUR_NUMBER
    assert customer_leg["StatusCallback"] == PUBLIC_URL + "/twilio/voice/status"
    name = parse(customer_leg["Twiml"]).find("Dial/Conference").text
    assert agent_leg["To"] == f"client:agent-{staff['agent']['id']}"
    assert parse(agent_leg["Twiml"]).find("Dial/Conference").text == name
    assert twilio.call_updates() == []  # the original call had ended: nothing to redirect


async def test_voicemail_becomes_one_ticket_with_the_recording(twilio_client):
    app = twilio_client.app
    await call_into_queue(twilio_client, "CA30")
    record = await post(twilio_client, "/twilio/voice/wait/choice", CallSid="CA30", Digits="2")
    assert record.find("Record").get("action") == "/twilio/voice/voicemail"
    assert record.find("Record").get("transcribe") == "true"
    form = {
        "CallSid": "CA30",
        "From": CALLER,
        "RecordingSid": "RE30",
        "RecordingUrl": "https://api.twilio.com/RE30",
    }
    for _ in range(2):  # Twilio retried
        thanks = await post(twilio_client, "/twilio/voice/voicemail", **form)
        assert thanks.find("Hangup") is not None
    await post(
        twilio_client, "/twilio/voice/transcription", CallSid="CA30", TranscriptionText="Please call me"
    )
    await settle(app)
    async with app[SESSIONS]() as db:
        tickets = list((await db.execute(select(Ticket))).scalars())
        conversation = (await db.execute(select(Conversation))).scalar_one()
    assert len(tickets) == 1
    assert "https://api.twilio.com/RE30" in tickets[0].description
    assert "Please call me" in tickets[0].description
    assert conversation.routing_state == "abandoned"  # left the queue for voicemail


async def test_closed_hours_go_to_voicemail(aiohttp_client, twilio_settings, clock, tmp_path):
    ivr = (Path(voice.__file__).parent / "ivr_default.yaml").read_text()
    ivr = ivr.replace("hours: {}", "hours: {mon: ['10:00-18:00']}  # the manual clock says Monday 09:00 UTC")
    path = tmp_path / "ivr.yaml"
    path.write_text(ivr)
    settings = twilio_settings.model_copy(update={"ivr_file": path})
    client = await aiohttp_client(create_app(settings, clock=clock, tick_interval=None))
    root = await post(client, "/twilio/voice", CallSid="CA40", From=CALLER, To=OUR_NUMBER)
    assert "We are closed right now." in " ".join(say.text for say in root.iter("Say"))
    assert root.find("Record") is not None
    async with client.app[SESSIONS]() as db:
        assert (await db.execute(select(VoiceCall.status))).scalar_one() == "closed"


async def test_a_broken_ivr_file_names_the_problem(tmp_path):
    from channels.ivr import IvrError, load_ivr

    path = tmp_path / "ivr.yaml"
    path.write_text("languages: []\nmenus: {}\n")
    with pytest.raises(IvrError, match="languages"):
        load_ivr(path)


def take_away(database: Path) -> None:
    """The database file disappears: every new connection finds an empty database (no tables)."""
    shutil.move(database, database.with_suffix(".away"))


def bring_back(database: Path) -> None:
    database.unlink(missing_ok=True)
    shutil.move(database.with_suffix(".away"), database)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_with_the_database_down_callers_get_twiml_and_nothing_acknowledged_is_lost(
    twilio_client, settings
):
    app = twilio_client.app
    database = Path(settings.effective_database_url.split("///", 1)[1])
    await app[ENGINE].dispose()
    take_away(database)
    try:
        root = await post(twilio_client, "/twilio/voice", CallSid="CA50", From=CALLER, To=OUR_NUMBER)
        assert root.find("Record").get("action") == "/twilio/voice/voicemail"
        form = {
            "CallSid": "CA50",
            "From": CALLER,
            "To": OUR_NUMBER,
            "RecordingSid": "RE50",
            "RecordingUrl": "u",
        }
        thanks = await post(twilio_client, "/twilio/voice/voicemail", **form)
        assert thanks.find("Hangup") is not None
        assert await app[INBOX].settled() == 2  # the call and its voicemail, kept until storage is back
    finally:
        await app[ENGINE].dispose()
        bring_back(database)
    app[INBOX].wake()
    assert await app[INBOX].settled() == 0
    async with app[SESSIONS]() as db:
        ticket = (await db.execute(select(Ticket))).scalar_one()
        call = (await db.execute(select(VoiceCall))).scalar_one()
    assert ticket.subject == f"Voicemail from {CALLER}"
    assert (call.call_sid, call.ticket_id, call.status) == ("CA50", ticket.id, "voicemail")


async def test_a_webhook_that_comes_before_the_inbox_stored_the_call_stores_it_itself(twilio_client):
    app = twilio_client.app
    app[INBOX].pause()
    await post(twilio_client, "/twilio/voice", CallSid="CA60", From=CALLER, To=OUR_NUMBER)
    assert await count(app, VoiceCall) == 0  # still in the inbox
    form = {"CallSid": "CA60", "From": CALLER, "To": OUR_NUMBER, "Digits": "2"}
    root = await post(twilio_client, "/twilio/voice/language", **form)
    assert root.find("Gather") is not None
    app[INBOX].resume()
    assert await app[INBOX].settled() == 0
    assert await count(app, VoiceCall) == await count(app, Conversation) == 1
    async with app[SESSIONS]() as db:
        assert (await db.execute(select(VoiceCall.language))).scalar_one() == "es"


async def test_what_the_inbox_kept_is_stored_after_a_restart(aiohttp_client, twilio_settings, clock):
    first = await aiohttp_client(create_app(twilio_settings, clock=clock, tick_interval=None))
    first.app[INBOX].pause()
    await post(first, "/twilio/voice", CallSid="CA70", From=CALLER, To=OUR_NUMBER)
    await first.close()  # the process stops before the inbox stored the call
    second = await aiohttp_client(create_app(twilio_settings, clock=clock, tick_interval=None))
    assert await second.app[INBOX].settled() == 0
    async with second.app[SESSIONS]() as db:
        assert (await db.execute(select(VoiceCall.call_sid))).scalar_one() == "CA70"


async def test_the_softphone_token_carries_a_voice_grant(aiohttp_client, twilio_settings, clock, staff):
    bare = await aiohttp_client(create_app(twilio_settings, clock=clock, tick_interval=None))
    refused = await bare.get("/api/voice/token", headers=bearer(staff["agent"]["token"]))
    assert refused.status == 409
    settings = another_process(twilio_settings).model_copy(
        update={
            "twilio_api_key": "SK" + "1" * 32,
            "twilio_api_secret": SecretStr("s3cret"),
            "twilio_twiml_app_sid": "AP" + "2" * 32,
        }
    )
    client = await aiohttp_client(create_app(settings, clock=clock, tick_interval=None))
    response = await client.get("/api/voice/token", headers=bearer(staff["agent"]["token"]))
    body = await response.json()
    assert body["identity"] == f"agent-{staff['agent']['id']}"
    claims = jwt.decode(body["token"], "s3cret", algorithms=["HS256"])
    assert claims["grants"]["identity"] == body["identity"]
    assert claims["grants"]["voice"]["outgoing"]["application_sid"] == "AP" + "2" * 32


async def test_after_the_queues_maximum_wait_the_caller_is_offered_voicemail(twilio_client, staff, clock):
    admin = bearer(staff["admin"]["token"])
    queue = {"name": "billing", "channels": ["voice"], "max_wait_seconds": 60}
    assert (await twilio_client.post("/api/queues", json=queue, headers=admin)).status == 201
    await call_into_queue(twilio_client, "CA60", digit="1")
    clock.advance(seconds=61)
    await twilio_client.app[ROUTING].engine.tick()
    await settle(twilio_client.app)
    root = await post(twilio_client, "/twilio/voice/wait", CallSid="CA60")
    assert root.find("Record").get("action") == "/twilio/voice/voicemail"


async def test_with_recording_consent_the_caller_hears_the_notice_and_the_call_is_recorded(
    aiohttp_client, twilio_settings, twilio, clock, staff
):
    settings = twilio_settings.model_copy(update={"recording_consent": True})
    client = await aiohttp_client(create_app(settings, clock=clock, tick_interval=None))
    await available(client, staff)
    await call_into_queue(client, "CA70", digit="9")
    await settle(client.app)
    await accept_offer(client, staff)
    await settle(client.app)
    bridge = parse(twilio.call_updates("CA70")[0]["Twiml"])
    assert "This call is recorded." in [say.text for say in bridge.iter("Say")]
    assert bridge.find("Dial/Conference").get("record") == "record-from-start"
    assert bridge.find("Dial/Conference").get("recordingStatusCallback") == "/twilio/voice/recording"
    await post(client, "/twilio/voice/recording", CallSid="CA70", RecordingUrl="https://api.twilio.com/RE70")
    async with client.app[SESSIONS]() as db:
        call = (await db.execute(select(VoiceCall))).scalar_one()
    assert call.recording_url == "https://api.twilio.com/RE70"


async def connected_call(client, twilio, staff, call_sid: str = "CA80") -> int:
    """A caller connected to the agent, the conference started; returns the conversation id."""
    await available(client, staff)
    await call_into_queue(client, call_sid, digit="9")
    await settle(client.app)
    await accept_offer(client, staff)
    await settle(client.app)
    name = assert_bridged(twilio, call_sid, staff["agent"]["id"])
    await post(
        client,
        "/twilio/voice/conference",
        FriendlyName=name,
        ConferenceSid="CF" + "8" * 32,
        StatusCallbackEvent="conference-start",
        CallSid=call_sid,
    )
    return int(name.removeprefix("conv-"))


async def test_the_agent_holds_and_resumes_the_caller(twilio_client, twilio, staff):
    conversation_id = await connected_call(twilio_client, twilio, staff)
    url = f"/api/voice/calls/{conversation_id}/hold"
    other = await twilio_client.post(url, json={"hold": True}, headers=bearer(staff["admin"]["token"]))
    assert other.status == 200  # a supervisor or admin may, too
    mine = await twilio_client.post(url, json={"hold": False}, headers=bearer(staff["agent"]["token"]))
    assert mine.status == 200, await mine.text()
    held, resumed = twilio.participant_updates()
    assert held["Hold"] == "true" and held["HoldUrl"]
    assert resumed["Hold"] == "false"
    sent = [s.path for s in twilio.sent if "/Participants/" in s.path]
    assert sent[0].endswith(f"/Conferences/CF{'8' * 32}/Participants/CA80.json")


async def test_another_agent_may_not_control_the_call(twilio_client, twilio, staff, sessions, clock):
    from contact_center.auth.sessions import issue_token
    from contact_center.users import service
    from contact_center.users.schemas import UserIn

    conversation_id = await connected_call(twilio_client, twilio, staff)
    async with sessions.begin() as db:
        user = await service.create_user(
            db, UserIn(username="eve", display_name="Eve", password="eve-password-1"), clock.now()
        )
        _, token = await issue_token(db, user, "tests", clock.now())
    for action, body in (("hold", {"hold": True}), ("consult", {"agent_id": user.id}), ("hangup", None)):
        response = await twilio_client.post(
            f"/api/voice/calls/{conversation_id}/{action}", json=body, headers=bearer(token)
        )
        assert response.status == 403, (action, await response.text())
    assert twilio.participant_updates() == []


async def test_warm_transfer_consults_a_colleague_then_hands_over(twilio_client, twilio, staff):
    app = twilio_client.app
    conversation_id = await connected_call(twilio_client, twilio, staff)
    colleague = staff["supervisor"]["id"]
    response = await twilio_client.post(
        f"/api/voice/calls/{conversation_id}/consult",
        json={"agent_id": colleague},
        headers=bearer(staff["agent"]["token"]),
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["agents"] == sorted([staff["agent"]["id"], colleague])
    consulted = [leg for leg in twilio.calls_created() if leg["To"] == f"client:agent-{colleague}"]
    assert len(consulted) == 1
    # The hand-over through routing: the colleague accepts, and is not dialled a second time.
    async with app[SESSIONS]() as db:
        task_id = (await db.get(Conversation, conversation_id)).task_id
    await available(twilio_client, staff, role="supervisor")
    moved = await twilio_client.post(
        f"/api/routing/tasks/{task_id}/transfer",
        json={"agent_id": colleague, "note": "billing question"},
        headers=bearer(staff["agent"]["token"]),
    )
    assert moved.status == 204, await moved.text()
    await settle(app)
    await accept_offer(twilio_client, staff, role="supervisor")
    await settle(app)
    assert len([leg for leg in twilio.calls_created() if leg["To"] == f"client:agent-{colleague}"]) == 1
    first_agent_leg = [
        leg for leg in twilio.calls_created() if leg["To"] == f"client:agent-{staff['agent']['id']}"
    ]
    assert len(first_agent_leg) == 1
    hung_up = [u for u in twilio.call_updates() if u.get("Status") == "completed"]
    assert len(hung_up) == 1  # the first agent's leg


async def test_cold_transfer_to_a_queue_holds_the_caller_until_the_next_agent(twilio_client, twilio, staff):
    app = twilio_client.app
    conversation_id = await connected_call(twilio_client, twilio, staff)
    async with app[SESSIONS]() as db:
        task_id = (await db.get(Conversation, conversation_id)).task_id
    moved = await twilio_client.post(
        f"/api/routing/tasks/{task_id}/transfer",
        json={"queue": "general", "note": "wrong department"},
        headers=bearer(staff["agent"]["token"]),
    )
    assert moved.status == 204, await moved.text()
    await settle(app)
    assert twilio.participant_updates()[-1]["Hold"] == "true"
    assert [u for u in twilio.call_updates() if u.get("Status") == "completed"]  # the first agent left
    away = {"presence": "away", "reason": "break"}  # else the queue may offer the call straight back
    assert (
        await twilio_client.post("/api/routing/presence", json=away, headers=bearer(staff["agent"]["token"]))
    ).status == 200
    await available(twilio_client, staff, role="supervisor")
    await settle(app)
    await accept_offer(twilio_client, staff, role="supervisor")
    await settle(app)
    assert twilio.participant_updates()[-1]["Hold"] == "false"
    assert [leg for leg in twilio.calls_created() if leg["To"] == f"client:agent-{staff['supervisor']['id']}"]


async def test_the_agent_hangs_up_for_everyone(twilio_client, twilio, staff):
    conversation_id = await connected_call(twilio_client, twilio, staff)
    response = await twilio_client.post(
        f"/api/voice/calls/{conversation_id}/hangup", headers=bearer(staff["agent"]["token"])
    )
    assert response.status == 200, await response.text()
    assert twilio.call_updates("CA80")[-1]["Status"] == "completed"


async def test_a_retry_on_another_process_gets_the_same_answer_and_changes_nothing(
    aiohttp_client, twilio_client, twilio_settings, clock
):
    other_process = await aiohttp_client(
        create_app(another_process(twilio_settings), clock=clock, tick_interval=None)
    )
    await post(twilio_client, "/twilio/voice", CallSid="CA90", From=CALLER, To=OUR_NUMBER)
    await post(twilio_client, "/twilio/voice/language", CallSid="CA90", Digits="1")
    token = {"I-Twilio-Idempotency-Token": "retry-token-90"}
    form = {"CallSid": "CA90", "Digits": "9"}
    path = "/twilio/voice/menu?menu=main&attempt=1"
    first = await signed_post(twilio_client, path, form, **token)
    retried = await signed_post(other_process, path, form, **token)
    assert first.status == retried.status == 200
    assert await first.text() == await retried.text()
    assert await count(twilio_client.app, Message) == 2  # the call, and its one queueing
    async with twilio_client.app[SESSIONS]() as db:
        conversation = (await db.execute(select(Conversation))).scalar_one()
    assert conversation.task_id is not None
    assert await other_process.app[ROUTING].engine.store.tasks() == []  # the retry queued nothing there


async def test_old_webhook_receipts_are_forgotten(twilio_client, clock):
    from datetime import timedelta

    from channels.twilio_webhooks import prune_receipts, remember
    from contact_center.db.models import WebhookReceipt

    app = twilio_client.app
    async with app[SESSIONS].begin() as db:
        assert await remember(db, "old", "", clock.now() - timedelta(days=8))
        assert await remember(db, "new", "", clock.now())
        assert not await remember(db, "new", "again", clock.now())  # claimed once
    async with app[SESSIONS].begin() as db:
        assert await prune_receipts(db, clock.now() - timedelta(days=7)) == 1
    async with app[SESSIONS]() as db:
        assert [r.key for r in (await db.execute(select(WebhookReceipt))).scalars()] == ["new"]
