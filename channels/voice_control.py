"""The agent's side of a call: the bridge when an offer is accepted, hold, consult, transfer, hang-up, token.

Every connected call is a Twilio conference named after its conversation (`conv-<id>`). The caller (or,
for a callback, the customer we called back) joins it with hold music until an agent is in; each agent
joins with a leg of their own, dialled to their softphone (`client:agent-<id>`). So:
- hold puts the caller's participant on hold (music) and back;
- consult (warm transfer) dials a second agent into the same conference while the first stays;
- a cold transfer through routing holds the caller, hangs up the first agent's leg, and the agent who
  accepts next is dialled in (an agent already in by consult is not dialled twice);
- hang-up ends the caller's call, which ends the conference.
Reacting to routing events happens once across every process: the first to claim a receipt acts.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from twilio.base.exceptions import TwilioException
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant

from channels import voice_twiml as tw
from channels.twilio_webhooks import remember
from channels.voice import IVR, call_row, set_call, webhook
from contact_center.auth.roles import Access, Role
from contact_center.db.models import Conversation, VoiceCall
from contact_center.errors import Conflict, NotFound, PermissionDenied
from contact_center.events import Event
from contact_center.web.appkeys import CLOCK, EVENTS, SESSIONS, SETTINGS, TWILIO
from contact_center.web.endpoints import EndpointTable

log = logging.getLogger(__name__)

api = EndpointTable("voice")


def agent_identity(user_id: int) -> str:
    """The Voice SDK client identity of an agent's softphone."""
    return f"agent-{user_id}"


# routing events ---------------------------------------------------------------------------------------


async def on_task_accepted(app: web.Application, event: Event) -> None:
    """An agent accepted a voice task: bring the caller into the conference and dial the agent in."""
    data = event.payload.get("data") or {}
    if data.get("channel") != "voice" or app[TWILIO] is None:
        return
    task_id, agent_id = event.payload["task_id"], int(event.payload["agent_id"])
    call = await _claim(app, f"bridge|{task_id}|{data.get('reservation_id')}", task_id)
    if call is None:
        return
    settings, language = app[SETTINGS], app[IVR].language(call.language)
    name = tw.conference_name(call.conversation_id)
    try:
        if call.status not in ("connected", "transferring"):
            notice = tw.prompt(language, "recording_notice") if settings.recording_consent else ""
            caller = tw.caller_into_conference(
                language, name, settings.hold_music_url, notice=notice, record=settings.recording_consent
            )
            if call.callback_requested:
                placed = await app[TWILIO].calls.create_async(
                    to=call.from_number,
                    from_=settings.twilio_phone_number,
                    twiml=str(caller),
                    status_callback=f"{settings.public_url}/twilio/voice/status",
                )
                await set_call(app, call.call_sid, callback_call_sid=placed.sid)
            else:
                await app[TWILIO].calls(call.call_sid).update_async(twiml=str(caller))
        else:
            await _hold(app, call, False)
        if str(agent_id) not in call.agent_legs:  # a consulted agent is in already
            await _dial_agent(app, call, agent_id)
        await set_call(app, call.call_sid, agent_id=agent_id, status="connected")
    except TwilioException:
        log.exception("could not bridge call %s to agent %s", call.call_sid, agent_id)


async def on_task_transferred(app: web.Application, event: Event) -> None:
    """A cold transfer of a voice task: hold the caller and let the previous agent go."""
    if app[TWILIO] is None:
        return
    task_id = event.payload["task_id"]
    call = await _claim(app, f"transfer|{task_id}|{event.payload.get('at')}", task_id)
    if call is None or call.status != "connected":
        return
    previous = str(event.payload.get("agent_id") or call.agent_id or "")
    try:
        await _hold(app, call, True)
        leg = call.agent_legs.get(previous)
        if leg:
            await app[TWILIO].calls(leg).update_async(status="completed")
        legs = {agent: sid for agent, sid in call.agent_legs.items() if agent != previous}
        await set_call(app, call.call_sid, status="transferring", agent_legs=legs)
    except TwilioException:
        log.exception("could not hand over call %s", call.call_sid)


async def _claim(app: web.Application, key: str, task_id: str) -> VoiceCall | None:
    """The voice call of a task, if this process is the first to claim acting on `key`."""
    async with app[SESSIONS].begin() as db:
        if not await remember(db, key, "", app[CLOCK].now()):
            return None
        query = (
            select(VoiceCall)
            .join(Conversation, Conversation.id == VoiceCall.conversation_id)
            .where(Conversation.task_id == task_id)
            .order_by(VoiceCall.id.desc())
        )
        return (await db.execute(query)).scalars().first()


async def _dial_agent(app: web.Application, call: VoiceCall, agent_id: int) -> None:
    settings = app[SETTINGS]
    leg = await app[TWILIO].calls.create_async(
        to=f"client:{agent_identity(agent_id)}",
        from_=settings.twilio_phone_number,
        twiml=str(tw.agent_into_conference(tw.conference_name(call.conversation_id))),
    )
    async with app[SESSIONS].begin() as db:
        row = await call_row(db, call.call_sid)
        if row is not None:
            row.agent_legs = {**row.agent_legs, str(agent_id): leg.sid}
            call.agent_legs = row.agent_legs


async def _hold(app: web.Application, call: VoiceCall, hold: bool) -> None:
    if call.conference_sid is None:
        raise Conflict("the call is not in its conference yet")
    caller_leg = call.callback_call_sid if call.callback_requested else call.call_sid
    await (
        app[TWILIO]
        .conferences(call.conference_sid)
        .participants(caller_leg)
        .update_async(hold=hold, hold_url=app[SETTINGS].hold_music_url if hold else None)
    )


# the conference's own status -----------------------------------------------------------------------------


@webhook("/twilio/voice/conference")
async def conference_status(request: web.Request, form: dict[str, str]) -> web.Response:
    """Conference events: keep the conference's sid on the call it belongs to."""
    name = form.get("FriendlyName", "")
    if name.startswith("conv-") and name[5:].isdigit() and form.get("ConferenceSid"):
        async with request.app[SESSIONS].begin() as db:
            query = select(VoiceCall).where(VoiceCall.conversation_id == int(name[5:]))
            for call in (await db.execute(query)).scalars():
                call.conference_sid = form["ConferenceSid"]
    return web.Response(status=204)


# the agent's controls -------------------------------------------------------------------------------------


class HoldIn(BaseModel):
    """Hold the caller, or take them off hold."""

    model_config = ConfigDict(extra="forbid")
    hold: bool


class ConsultIn(BaseModel):
    """Bring a colleague into the call (warm transfer: hand over with routing's transfer afterwards)."""

    model_config = ConfigDict(extra="forbid")
    agent_id: int = Field(ge=1)


@api.post(
    "/api/voice/calls/{conversation_id}/hold",
    access=Access.AGENT,
    body=HoldIn,
    summary="Hold the caller (hold music) or take them off hold",
)
async def hold_call(request: web.Request, body: HoldIn) -> dict[str, Any]:
    """Hold or resume the caller of the agent's own call."""
    call = await _own_call(request)
    await _twilio_step(_hold(request.app, call, body.hold))
    return {"conversation_id": call.conversation_id, "hold": body.hold}


@api.post(
    "/api/voice/calls/{conversation_id}/consult",
    access=Access.AGENT,
    body=ConsultIn,
    summary="Dial a colleague into the call (the caller stays on)",
)
async def consult(request: web.Request, body: ConsultIn) -> dict[str, Any]:
    """Warm transfer, first step: the colleague's softphone rings and joins the conference."""
    call = await _own_call(request)
    if str(body.agent_id) in call.agent_legs:
        raise Conflict(f"agent {body.agent_id} is on this call already")
    await _twilio_step(_dial_agent(request.app, call, body.agent_id))
    await request.app[EVENTS].publish(
        "voice.consult", {"conversation_id": call.conversation_id, "agent_id": body.agent_id}
    )
    return {"conversation_id": call.conversation_id, "agents": sorted(int(a) for a in call.agent_legs)}


@api.post(
    "/api/voice/calls/{conversation_id}/hangup", access=Access.AGENT, summary="End the call for everyone"
)
async def hang_up(request: web.Request) -> dict[str, Any]:
    """End the caller's call (and so the conference); the status callback ends the contact."""
    call = await _own_call(request)
    caller_leg = call.callback_call_sid if call.callback_requested else call.call_sid
    await _twilio_step(request.app[TWILIO].calls(caller_leg).update_async(status="completed"))
    return {"conversation_id": call.conversation_id, "ended": True}


async def _own_call(request: web.Request) -> VoiceCall:
    """The connected call of a conversation the caller may control (its agent, or a supervisor)."""
    if request.app[TWILIO] is None:
        raise Conflict("voice is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)")
    raw = request.match_info["conversation_id"]
    if not raw.isdigit():
        raise NotFound(f"conversation {raw} does not exist")
    async with request.app[SESSIONS]() as db:
        query = select(VoiceCall).where(VoiceCall.conversation_id == int(raw)).order_by(VoiceCall.id.desc())
        call = (await db.execute(query)).scalars().first()
    if call is None:
        raise NotFound(f"conversation {raw} has no call")
    user = request["user"]
    if call.agent_id != user.id and user.role not in (Role.SUPERVISOR, Role.ADMIN):
        raise PermissionDenied("this call is handled by another agent")
    if call.status not in ("connected", "transferring"):
        raise Conflict(f"the call is {call.status}, not connected")
    return call


async def _twilio_step(step: Any) -> Any:
    try:
        return await step
    except TwilioException as exc:
        log.warning("Twilio refused a call control step: %s", exc)
        raise Conflict(f"Twilio refused: {exc}") from None


# the softphone's token -----------------------------------------------------------------------------------


@api.get("/api/voice/token", access=Access.AGENT, summary="A Twilio Voice access token for the softphone")
async def voice_token(request: web.Request) -> dict[str, Any]:
    """An access token with a VoiceGrant for the logged-in user's softphone (one hour)."""
    settings = request.app[SETTINGS]
    secret = settings.twilio_api_secret.get_secret_value()
    if not (settings.twilio_enabled and settings.twilio_api_key and secret and settings.twilio_twiml_app_sid):
        raise Conflict(
            "the softphone is not configured (TWILIO_API_KEY, TWILIO_API_SECRET, TWILIO_TWIML_APP_SID)"
        )
    identity = agent_identity(request["user"].id)
    token = AccessToken(
        settings.twilio_account_sid, settings.twilio_api_key, secret, identity=identity, ttl=3600
    )
    token.add_grant(VoiceGrant(outgoing_application_sid=settings.twilio_twiml_app_sid, incoming_allow=True))
    return {"identity": identity, "token": token.to_jwt(), "ttl_seconds": 3600}


# wiring --------------------------------------------------------------------------------------------------


def attach(app: web.Application) -> Any:
    """Subscribe to routing's accepted and transferred events; returns what undoes it."""
    stops = [
        app[EVENTS].subscribe("routing.task.accepted", lambda event: on_task_accepted(app, event)),
        app[EVENTS].subscribe("routing.task.transferred", lambda event: on_task_transferred(app, event)),
    ]
    return lambda: [stop() for stop in stops]
