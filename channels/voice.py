"""Voice through Twilio: the IVR, the phone queue with position and callbacks, voicemail, and the bridge.

A call flows: /twilio/voice (greeting, language) -> /twilio/voice/menu (keys or speech, as the IVR file
says) -> the contact is queued through intake (VIP and complaint priority, skills from the option) ->
/twilio/voice/wait loops with the caller's position and estimated wait, hold music, and the choice of a
callback that keeps their place or a voicemail. When an agent accepts the task, the live call is
redirected (REST) to dial the agent's softphone, or, for a callback, the customer is called back and
bridged. Status callbacks cancel the task of a caller who hung up in queue (abandoned) and keep the
call's final status and duration.

Every webhook is signed (403 otherwise) and answers TwiML even when our own storage fails: an apology and
voicemail. What a webhook must store without holding the caller up (the call's arrival, a voicemail, a
transcription, a status, a recording) goes into the durable inbox (channels/inbox.py) and is stored in the
background; a later webhook that needs the call's row before the inbox stored it stores it itself (Twilio
sends From and To with every request, and intake is idempotent on the CallSid).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from twilio.twiml.voice_response import VoiceResponse

from channels import voice_twiml as tw
from channels.callers import Callers
from channels.ivr import Ivr, Language, Option, load_ivr
from channels.twilio_webhooks import (
    INBOX,
    Forbidden,
    forbidden,
    idempotency_key,
    journal,
    prune_receipts,
    recall,
    remember,
    twiml,
    verified_form,
)
from contact_center.auth.roles import Access
from contact_center.db.models import Conversation, Customer, Ticket, VoiceCall
from contact_center.errors import Conflict, InvalidInput, NotFound
from contact_center.events import Event
from contact_center.intake import InboundContact
from contact_center.web.appkeys import CLOCK, EVENTS, INTAKE, ROUTING, SESSIONS, SETTINGS, TICKETS
from contact_center.web.endpoints import declare_access

log = logging.getLogger(__name__)

routes = web.RouteTableDef()
IVR = web.AppKey("ivr", Ivr)
CALLERS = web.AppKey("callers", Callers)
RECEIPTS_KEPT = timedelta(days=7)  # far longer than Twilio retries a webhook
FINAL_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}
WAITING_STATES = {"pending", "queued", "offered"}
STORAGE_ERRORS = (SQLAlchemyError, OSError, asyncio.TimeoutError)
HOUSEKEEPING_SECONDS = 3600.0

Handler = Callable[[web.Request, dict[str, str]], Awaitable[VoiceResponse | web.Response]]


# the webhook wrapper ---------------------------------------------------------------------------------


def webhook(path: str, *, replay: bool = False) -> Callable[[Handler], Handler]:
    """A signed Twilio webhook answering TwiML; any failure still answers TwiML (apology and voicemail).

    With `replay`, the answer is kept under Twilio's idempotency token, and a retry gets it again from any
    process: for the steps where the caller's choice changes state (the others are idempotent in the
    domain, and the wait loop, the most frequent webhook, should not write on every round).
    """

    def decorate(handler: Handler) -> Handler:
        @routes.post(path)
        @declare_access(Access.PUBLIC)
        async def handle(request: web.Request) -> web.Response:
            with request.app[INBOX].answer():
                return await _handle(request)

        async def _handle(request: web.Request) -> web.Response:
            try:
                form = await verified_form(request)
            except Forbidden as exc:
                return forbidden(str(exc))
            key = idempotency_key(request) if replay else None
            replayed = await _answer_given(request.app, key)
            if replayed is not None:
                return twiml(replayed)
            try:
                result = await handler(request, form)
                if key is not None and isinstance(result, VoiceResponse):
                    await _keep_answer(request.app, key, str(result))
            except Exception as exc:
                storage = isinstance(exc, STORAGE_ERRORS)
                log.exception("voice webhook %s failed%s", path, " (storage)" if storage else "")
                return twiml(tw.apology(request.app[IVR].language(None)))
            return result if isinstance(result, web.Response) else twiml(result)

        handle.__name__ = handler.__name__
        handle.__doc__ = handler.__doc__
        return handler

    return decorate


async def _answer_given(app: web.Application, key: str | None) -> str | None:
    """The TwiML given to an earlier delivery of this very request (a retry), from any process."""
    if key is None:
        return None
    try:
        async with app[SESSIONS]() as db:
            return await recall(db, key)
    except STORAGE_ERRORS:
        return None  # storage is down: answer afresh (the handler copes or apologises)


async def _keep_answer(app: web.Application, key: str, answer: str) -> None:
    async with app[SESSIONS].begin() as db:
        await remember(db, key, answer, app[CLOCK].now())


# the call ----------------------------------------------------------------------------------------------


@webhook("/twilio/voice")
async def incoming_call(request: web.Request, form: dict[str, str]) -> VoiceResponse:
    """A call arrives: into the inbox (stored once per CallSid), greet the caller, offer languages or the
    menu. A known caller is greeted by name in their language."""
    app, ivr = request.app, request.app[IVR]
    if not form.get("CallSid"):
        raise InvalidInput("no CallSid")
    await journal(request, "call", form)
    caller = await app[CALLERS].lookup(form.get("From", ""))
    language = ivr.language(caller.language if caller else None)
    if caller is not None and caller.given_name:
        greeting = tw.prompt(language, "welcome_known", first_name=caller.given_name)
    else:
        greeting = tw.prompt(language, "welcome")
    if not ivr.is_open(app[CLOCK].now()):  # the stored call's status says "closed" too
        return tw.voicemail(language, f"{greeting} {tw.prompt(language, 'closed')}")
    if len(ivr.languages) > 1:
        return tw.choose_language(ivr, greeting)
    return tw.menu(ivr, ivr.start_menu, language, 1, before=greeting)


@webhook("/twilio/voice/language", replay=True)
async def chosen_language(request: web.Request, form: dict[str, str]) -> VoiceResponse:
    """The caller pressed a language key (or nothing: the default language)."""
    ivr = request.app[IVR]
    language = ivr.language_by_digit(form.get("Digits", "")) or ivr.languages[0]
    await call_of(request.app, form)
    await set_call(request.app, form["CallSid"], language=language.code)
    return tw.menu(ivr, ivr.start_menu, language, 1)


@webhook("/twilio/voice/menu", replay=True)
async def menu_choice(request: web.Request, form: dict[str, str]) -> VoiceResponse:
    """A key or words in a menu: another menu, or the queue the option names."""
    app, ivr = request.app, request.app[IVR]
    name = request.query.get("menu", ivr.start_menu)
    if name not in ivr.menus:
        name = ivr.start_menu
    attempt = _int(request.query.get("attempt"), 1)
    call = await call_of(app, form)
    language = ivr.language(call.language)
    option = ivr.choose(name, form.get("Digits", ""), form.get("SpeechResult", ""), language.code)
    if option is None:
        if attempt >= ivr.max_attempts:
            fallback = Option(digit="0", queue=ivr.default_queue)
            return await _enqueue(request, form, call, fallback, language, f"{name}: no choice")
        heard = "silent" not in request.query
        before = tw.prompt(language, "not_understood") if heard else ""
        return tw.menu(ivr, name, language, attempt + 1, before=before)
    await set_call(app, form["CallSid"], ivr_path=[*call.ivr_path, f"{name}:{option.digit}"])
    if option.menu is not None:
        return tw.menu(ivr, option.menu, language, 1)
    return await _enqueue(request, form, call, option, language, f"{name}:{option.digit}")


async def _enqueue(
    request: web.Request, form: dict[str, str], call: VoiceCall, option: Option, language: Language, why: str
) -> VoiceResponse:
    """Queue the call through intake (priority for VIPs and complaints), then the wait loop."""
    app = request.app
    await app[INTAKE].receive(
        InboundContact(
            channel="voice",
            identities=_identities(call.from_number),
            external_id=f"{call.call_sid}:queued",
            text=f"Phone call; IVR choice {why}",
            conversation_id=call.conversation_id,
            queue=option.queue,
            language=language.code,
            complaint=option.complaint,
            complaint_source="ivr",
            skills=option.skills,
            attributes={"call_sid": call.call_sid},
        )
    )
    await set_call(app, call.call_sid, status="queued")
    return await _wait_twiml(app, call.call_sid, language)


@webhook("/twilio/voice/wait")
async def wait_loop(request: web.Request, form: dict[str, str]) -> VoiceResponse:
    """One round of waiting: position, estimated wait, the options, hold music."""
    call = await call_of(request.app, form)
    return await _wait_twiml(request.app, call.call_sid, request.app[IVR].language(call.language))


async def _wait_twiml(app: web.Application, call_sid: str, language: Language) -> VoiceResponse:
    """The next round of waiting; voicemail once the queue gave up (its maximum wait passed)."""
    call = await get_call(app, call_sid)
    if await _routing_state(app, call.conversation_id) in ("fell_back", "abandoned"):
        await set_call(app, call_sid, status="voicemail")
        return tw.voicemail(language, tw.prompt(language, "voicemail"))
    task_id = await _task_of_call(app, call_sid)
    place = await app[ROUTING].place_in_line(task_id) if task_id else None
    return tw.wait(language, place, app[SETTINGS].hold_music_url)


@webhook("/twilio/voice/wait/choice", replay=True)
async def wait_choice(request: web.Request, form: dict[str, str]) -> VoiceResponse:
    """1: a callback that keeps the caller's place; 2: voicemail; anything else: keep waiting."""
    app = request.app
    call = await call_of(app, form)
    language = app[IVR].language(call.language)
    digit = form.get("Digits", "")
    if digit == "1":
        await set_call(app, call.call_sid, callback_requested=True, status="callback")
        last_digits = "".join(ch for ch in call.from_number if ch.isdigit())[-4:]
        return tw.goodbye(language, tw.prompt(language, "callback_confirmed", last_digits=last_digits))
    if digit == "2":
        task_id = await _task_of_call(app, call.call_sid)
        if task_id:
            with contextlib.suppress(Conflict):
                await app[ROUTING].cancel(task_id, "voicemail")
        await set_call(app, call.call_sid, status="voicemail")
        return tw.voicemail(language, tw.prompt(language, "voicemail"))
    return await _wait_twiml(app, call.call_sid, language)


@webhook("/twilio/voice/after-dial")
async def after_dial(request: web.Request, form: dict[str, str]) -> VoiceResponse:
    """The agent's leg ended: back to the queue if the call was transferred, else goodbye."""
    app = request.app
    call = await call_of(app, form)
    language = app[IVR].language(call.language)
    state = await _routing_state(app, call.conversation_id)
    if state in WAITING_STATES:
        return await _wait_twiml(app, call.call_sid, language)
    if form.get("DialCallStatus") in {"no-answer", "busy", "failed"} and state == "assigned":
        return tw.apology(language)
    response = VoiceResponse()
    response.hangup()
    return response


@webhook("/twilio/voice/voicemail")
async def voicemail_recorded(request: web.Request, form: dict[str, str]) -> VoiceResponse:
    """A voicemail was recorded: into the inbox (one ticket per recording, with its URL); thanks, goodbye."""
    await journal(request, "voicemail", form)
    language = await _language_if_known(request.app, form["CallSid"])
    return tw.goodbye(language, tw.prompt(language, "voicemail_thanks"))


@webhook("/twilio/voice/transcription")
async def transcription(request: web.Request, form: dict[str, str]) -> web.Response:
    """Twilio's transcription of a voicemail: into the inbox (onto the call and its ticket)."""
    await journal(request, "transcription", form)
    return web.Response(status=204)


@webhook("/twilio/voice/status")
async def call_status(request: web.Request, form: dict[str, str]) -> web.Response:
    """A call's progress: into the inbox (a caller who hung up while waiting abandons the task)."""
    await journal(request, "status", form)
    return web.Response(status=204)


@webhook("/twilio/voice/recording")
async def recording_status(request: web.Request, form: dict[str, str]) -> web.Response:
    """A call recording is ready: into the inbox (its URL onto the call)."""
    await journal(request, "recording", form)
    return web.Response(status=204)


async def _language_if_known(app: web.Application, call_sid: str) -> Language:
    """The call's language, or the IVR's first when the call is unknown or storage is down."""
    try:
        async with app[SESSIONS]() as db:
            call = await call_row(db, call_sid)
    except STORAGE_ERRORS:
        call = None
    return app[IVR].language(call.language if call else None)


# what the inbox stores ---------------------------------------------------------------------------------


async def store_call(app: web.Application, form: dict[str, str], at: datetime) -> None:
    """A call that arrived: the caller's customer, the conversation and the call's row (once per CallSid)."""
    await _register_call(app, form["CallSid"], form.get("From", ""), form.get("To", ""), at)


async def store_voicemail(app: web.Application, form: dict[str, str], at: datetime) -> None:
    """The ticket for a voicemail, once per RecordingSid (a retry or a replay changes nothing)."""
    now = app[CLOCK].now()
    recording_sid = form.get("RecordingSid", "") or form["CallSid"]
    await _register_call(app, form["CallSid"], form.get("From", ""), form.get("To", ""), at)
    async with app[SESSIONS].begin() as db:
        if await recall(db, f"voicemail|{recording_sid}") is not None:
            return
        call = await call_row(db, form["CallSid"])
        assert call is not None
        conversation = await db.get(Conversation, call.conversation_id)
        assert conversation is not None
        ticket = Ticket(
            customer_id=conversation.customer_id,
            subject=f"Voicemail from {call.from_number or 'an unknown caller'}",
            category="service_request",
            status="new",
            priority="high" if conversation.complaint else "normal",
            conversation_id=conversation.id,
            description=f"Recording: {form.get('RecordingUrl', '')} ({form.get('RecordingDuration', '?')} s)",
            created_at=now,
            updated_at=now,
            source="voicemail",
        )
        db.add(ticket)
        opened = await app[TICKETS].opened(db, ticket, actor_id=None)
        call.voicemail_url, call.ticket_id, call.status = form.get("RecordingUrl"), ticket.id, "voicemail"
        await remember(db, f"voicemail|{recording_sid}", str(ticket.id), now)
    await app[TICKETS].after_commit_of(opened)


async def store_transcription(app: web.Application, form: dict[str, str], at: datetime) -> None:
    """A voicemail's text, onto the call and its ticket."""
    text = form.get("TranscriptionText", "")
    async with app[SESSIONS].begin() as db:
        call = await call_row(db, form["CallSid"])
        if call is None or call.transcription == text:
            return
        call.transcription = text
        if call.ticket_id is not None:
            ticket = await db.get(Ticket, call.ticket_id)
            if ticket is not None and text not in ticket.description:
                ticket.description = f"{ticket.description}\n\nTranscription: {text}".strip()


async def store_status(app: web.Application, form: dict[str, str], at: datetime) -> None:
    """A call (or our callback leg) ended: its status and duration.

    A caller who hangs up while waiting (no callback asked) abandons the task; a call that ends while an
    agent has it ends the contact, and the agent goes to wrap-up.
    """
    status, call_sid = form.get("CallStatus", ""), form.get("CallSid", "")
    if status not in FINAL_STATUSES:
        return
    now = app[CLOCK].now()
    async with app[SESSIONS].begin() as db:
        call = await call_row(db, call_sid)
        callback_leg = call is None
        if call is None:
            query = select(VoiceCall).where(VoiceCall.callback_call_sid == call_sid)
            call = (await db.execute(query)).scalar_one_or_none()
            if call is None:
                return
        if callback_leg:
            call.status = "callback-done" if status == "completed" else f"callback-{status}"
        else:
            call.ended_at = call.ended_at or now
            call.duration_seconds = _int(form.get("CallDuration"), 0) or call.duration_seconds
            if call.status not in ("voicemail", "callback", "calling-back"):
                call.status = status
        left_waiting = not callback_leg and not call.callback_requested and call.status != "voicemail"
        conversation = await db.get(Conversation, call.conversation_id)
        task_id = conversation.task_id if conversation else None
        state = conversation.routing_state if conversation else None
        agent_id = call.agent_id
    if task_id is None:
        return
    with contextlib.suppress(Conflict, NotFound):
        if left_waiting and state in WAITING_STATES:
            await app[ROUTING].cancel(task_id, "caller hung up")
        elif state == "assigned" and agent_id is not None and (callback_leg or not call.callback_requested):
            await app[ROUTING].complete(agent_id, task_id)


async def store_recording(app: web.Application, form: dict[str, str], at: datetime) -> None:
    """A finished call recording: its URL onto the call."""
    if form.get("RecordingStatus", "completed") == "completed":
        await set_call(app, form["CallSid"], recording_url=form.get("RecordingUrl"))


StoreHandler = Callable[[web.Application, dict[str, str], datetime], Awaitable[None]]
STORED: dict[str, StoreHandler] = {
    "call": store_call,
    "voicemail": store_voicemail,
    "transcription": store_transcription,
    "status": store_status,
    "recording": store_recording,
}


# storage helpers ----------------------------------------------------------------------------------------


async def _register_call(
    app: web.Application, call_sid: str, caller: str, to: str, at: datetime
) -> tuple[VoiceCall, Customer | None]:
    """The call's row and the caller's customer record, stored with the call's first message (one
    transaction); a repeated request for the same CallSid finds them. A call that arrived when the
    contact centre was closed gets the status "closed"."""
    found: dict[str, Any] = {}

    async def keep_call(db: AsyncSession, conversation: Conversation, customer: Customer) -> None:
        if conversation.routing_state == "pending":
            conversation.routing_state = "ivr"  # not queued until the IVR is done
        call = VoiceCall(
            call_sid=call_sid,
            conversation_id=conversation.id,
            from_number=caller[:32],
            to_number=to[:32],
            status="ivr" if app[IVR].is_open(at) else "closed",
            ivr_path=[],
            started_at=at,
        )
        db.add(call)
        found.update(call=call, customer=customer)

    await app[INTAKE].receive(
        InboundContact(
            channel="voice",
            identities=_identities(caller),
            external_id=call_sid,
            text=f"Incoming call from {caller or 'an unknown number'}",
            route=False,
            attributes={"call_sid": call_sid, "from": caller, "to": to},
        ),
        on_stored=keep_call,
    )
    if "call" in found:
        return found["call"], found["customer"]
    async with app[SESSIONS]() as db:  # the same call again (Twilio retried)
        call = await call_row(db, call_sid)
        if call is None:
            raise InvalidInput(f"call {call_sid} was stored without its call record")
        return call, await _customer_of(db, call.conversation_id)


async def _customer_of(db: Any, conversation_id: int) -> Customer | None:
    conversation = await db.get(Conversation, conversation_id)
    return None if conversation is None else await db.get(Customer, conversation.customer_id)


async def call_row(db: Any, call_sid: str) -> VoiceCall | None:
    """The call with this CallSid, in an open session."""
    return (await db.execute(select(VoiceCall).where(VoiceCall.call_sid == call_sid))).scalar_one_or_none()


async def get_call(app: web.Application, call_sid: str) -> VoiceCall:
    """The call with this CallSid (InvalidInput if we never saw it)."""
    async with app[SESSIONS]() as db:
        call = await call_row(db, call_sid)
    if call is None:
        raise InvalidInput(f"unknown call {call_sid}")
    return call


async def call_of(app: web.Application, form: dict[str, str]) -> VoiceCall:
    """The call a webhook is about; stored now from the webhook's own From and To when the inbox has not
    stored it yet (or another process's inbox holds it)."""
    call_sid = form.get("CallSid", "")
    async with app[SESSIONS]() as db:
        call = await call_row(db, call_sid)
    if call is not None:
        return call
    if not (call_sid and form.get("From")):
        raise InvalidInput(f"unknown call {call_sid!r}")
    call, _ = await _register_call(app, call_sid, form["From"], form.get("To", ""), app[CLOCK].now())
    return call


async def set_call(app: web.Application, call_sid: str, **values: Any) -> None:
    """Change fields of a call, in a transaction of its own."""
    async with app[SESSIONS].begin() as db:
        call = await call_row(db, call_sid)
        if call is not None:
            for name, value in values.items():
                setattr(call, name, value)


async def _task_of_call(app: web.Application, call_sid: str) -> str | None:
    async with app[SESSIONS]() as db:
        query = select(Conversation.task_id).join(VoiceCall, VoiceCall.conversation_id == Conversation.id)
        return (await db.execute(query.where(VoiceCall.call_sid == call_sid))).scalar_one_or_none()


async def _routing_state(app: web.Application, conversation_id: int) -> str | None:
    async with app[SESSIONS]() as db:
        conversation = await db.get(Conversation, conversation_id)
        return conversation.routing_state if conversation else None


def _identities(caller: str) -> list[tuple[str, str]]:
    digits = sum(ch.isdigit() for ch in caller)
    return [("phone", caller)] if digits >= 6 else []  # "anonymous", "+266696687" (withheld): no identity


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


# wiring --------------------------------------------------------------------------------------------------


def attach(app: web.Application) -> Callable[[], None]:
    """Load the IVR, look callers up (forgetting them when a customer changes), forget old webhook
    receipts hourly; returns what undoes it."""
    settings = app[SETTINGS]
    app[IVR] = load_ivr(settings.ivr_file)
    callers = app[CALLERS] = Callers(app[SESSIONS], app[CLOCK], settings.default_region)
    housekeeper = asyncio.create_task(_housekeeping(app))

    async def customer_changed(_: Event) -> None:
        callers.forget_all()

    unsubscribe = app[EVENTS].subscribe("customer.changed", customer_changed)

    def stop() -> None:
        housekeeper.cancel()
        unsubscribe()

    return stop


async def _housekeeping(app: web.Application) -> None:
    """Hourly: forget webhook receipts a week old."""
    while True:
        await asyncio.sleep(HOUSEKEEPING_SECONDS)
        try:
            async with app[SESSIONS].begin() as db:
                await prune_receipts(db, app[CLOCK].now() - RECEIPTS_KEPT)
        except Exception:
            log.exception("voice housekeeping failed; will try again")
