"""Two-way SMS (and MMS) through Twilio.

In: POST /twilio/sms (signed). HELP answers a short help text; anything else goes into the durable inbox
(channels/inbox.py) and Twilio gets its answer at once; the inbox then records STOP-like keywords as an
opt-out and START-like ones as its end, and hands other messages to intake (idempotent on MessageSid, so
a retry changes nothing), whose MMS media are fetched to disk in the background. When the inbox cannot
keep the message, the answer is 503, which Twilio retries.
Status: POST /twilio/sms/status (signed), through the inbox too, keeps a sent message's delivery status,
never going backwards.
Out: `send_sms` (and POST /api/conversations/{conversation_id}/sms for agents) to the customer's number,
refused when that number has opted out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from twilio.base.exceptions import TwilioException
from twilio.twiml.messaging_response import MessagingResponse

from channels import sms_media
from channels.inbox import InboxFull
from channels.twilio_webhooks import INBOX, Forbidden, forbidden, journal, remember, twiml, verified_form
from contact_center.api.common import path_id
from contact_center.auth.roles import Access, Role
from contact_center.background import BackgroundJobs
from contact_center.customers.identity import normalise_phone
from contact_center.db.models import Conversation, CustomerIdentity, Message, SmsOptOut, WebhookReceipt
from contact_center.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from contact_center.intake import InboundContact, IntakeResult
from contact_center.web.appkeys import CLOCK, EVENTS, INTAKE, SESSIONS, SETTINGS, SURVEYS, TWILIO
from contact_center.web.endpoints import EndpointTable, declare_access

log = logging.getLogger(__name__)

routes = web.RouteTableDef()
api = EndpointTable("sms")
MEDIA_JOBS = web.AppKey("sms_media_jobs", BackgroundJobs)

OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN = frozenset({"START", "YES", "UNSTOP"})
HELP = frozenset({"HELP", "INFO"})
HELP_TEXT = "You are writing to our customer service; an agent will answer here. Reply STOP to opt out."
MAX_BODY = 1600
MAX_MEDIA = 10
# A status only ever moves forward: a late "sent" never overwrites "delivered".
STATUS_RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "receiving": 2,
    "sent": 3,
    "received": 4,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "read": 5,
}
STORAGE_ERRORS = (SQLAlchemyError, OSError, asyncio.TimeoutError)
EARLY_STATUS = "sms-status-early|"  # a receipt key: a status that came before its message was stored

Handler = Callable[[web.Request, dict[str, str]], Awaitable[web.Response]]


# webhooks -----------------------------------------------------------------------------------------------


async def _answer(request: web.Request, handler: Handler) -> web.Response:
    """Verify the signature, run the handler; when the payload cannot be kept the answer is 503, so
    Twilio tries again."""
    try:
        form = await verified_form(request)
    except Forbidden as exc:
        return forbidden(str(exc))
    try:
        with request.app[INBOX].answer():
            return await handler(request, form)
    except (InboxFull, *STORAGE_ERRORS):
        log.exception("SMS webhook %s could not be kept", request.path)
        return web.Response(status=503, text="storage unavailable, try again\n", content_type="text/plain")


@routes.post("/twilio/sms")
@declare_access(Access.PUBLIC)
async def inbound(request: web.Request) -> web.Response:
    """An SMS or MMS from a customer (Twilio's incoming message webhook)."""
    return await _answer(request, _inbound)


@routes.post("/twilio/sms/status")
@declare_access(Access.PUBLIC)
async def status(request: web.Request) -> web.Response:
    """A delivery status of a message we sent (Twilio's status callback)."""
    return await _answer(request, _status)


async def _inbound(request: web.Request, form: dict[str, str]) -> web.Response:
    sender, ours, sid = form.get("From", ""), form.get("To", ""), form.get("MessageSid", "")
    if not (sender and sid):
        return web.Response(status=400, text="From and MessageSid are required\n", content_type="text/plain")
    keyword = form.get("Body", "").strip().upper()
    if keyword in HELP:
        reply = MessagingResponse()
        reply.message(HELP_TEXT)
        return twiml(reply)
    if not ours:
        form = {**form, "To": request.app[SETTINGS].twilio_phone_number}
    await journal(request, "sms", form)
    return twiml(MessagingResponse())


async def store_message(app: web.Application, form: dict[str, str], at: datetime) -> None:
    """An inbound message from the inbox: an opt-out keyword, or a message for intake."""
    await store_messages(app, [form])


async def store_messages(app: web.Application, forms: list[dict[str, str]]) -> None:
    """Inbound messages from the inbox, in order. Runs of ordinary messages go to intake together (a burst
    is stored in one transaction); an opt-out keyword or a survey answer is taken alone, between the runs."""
    run: list[dict[str, str]] = []
    for form in forms:
        keyword = form.get("Body", "").strip().upper()
        if keyword in OPT_OUT | OPT_IN:
            await _receive_run(app, run)
            run = []
            await set_opted_out(app, form["From"], form["To"], keyword)
        elif await _answers_survey(app, form):
            await _receive_run(app, run)
            run = []
            result = await app[INTAKE].receive(_contact(form, answering=True))
            await _after_intake(app, form, result, answering=True)
        else:
            run.append(form)
    await _receive_run(app, run)


async def _answers_survey(app: web.Application, form: dict[str, str]) -> bool:
    surveys = app.get(SURVEYS)
    return surveys is not None and await surveys.awaits_sms(form["From"], form.get("Body", ""))


def _contact(form: dict[str, str], *, answering: bool) -> InboundContact:
    """The message as intake takes it; a rating that answers the customer's open satisfaction survey is
    stored in the conversation but not routed."""
    attributes = {"from": form["From"], "to": form.get("To", ""), "num_media": form.get("NumMedia")}
    return InboundContact(
        channel="sms",
        identities=[("phone", form["From"])],
        external_id=form["MessageSid"],
        text=form.get("Body", ""),
        attributes={**attributes, "survey_answer": True} if answering else attributes,
        route=not answering,
    )


async def _receive_run(app: web.Application, forms: list[dict[str, str]]) -> None:
    """Ordinary messages (no keyword, no survey answer) to intake, together when there are several."""
    if not forms:
        return
    results = await app[INTAKE].receive_many([_contact(form, answering=False) for form in forms])
    for form, result in zip(forms, results, strict=True):
        await _after_intake(app, form, result, answering=False)


async def _after_intake(
    app: web.Application, form: dict[str, str], result: IntakeResult, *, answering: bool
) -> None:
    """Take the survey answer, then record the message's media and fetch them in the background."""
    if answering and not result.duplicate:
        try:
            await app[SURVEYS].answer_sms(result.conversation_id, form.get("Body", ""))
        except Conflict as exc:
            log.info("an SMS survey answer was not taken: %s", exc)
    entries = media_entries(app, form)
    if entries and await _record_media(app, result.message_id, entries):
        if any(entry["status"] == "pending" for entry in entries):
            app[MEDIA_JOBS].start(_fetch_media(app, result.conversation_id, result.message_id, entries))


async def _status(request: web.Request, form: dict[str, str]) -> web.Response:
    sid = form.get("MessageSid") or form.get("SmsSid", "")
    new = (form.get("MessageStatus") or form.get("SmsStatus", "")).lower()
    if new not in STATUS_RANK or not sid:
        log.info("ignored SMS status %r of %r", new, sid)
    else:
        await journal(request, "sms-status", form)
    return web.Response(status=204)


async def store_status(app: web.Application, form: dict[str, str], at: datetime) -> None:
    """A delivery status from the inbox onto the message we sent, never going backwards."""
    sid = form.get("MessageSid") or form.get("SmsSid", "")
    new = (form.get("MessageStatus") or form.get("SmsStatus", "")).lower()
    async with app[SESSIONS].begin() as db:
        query = select(Message).where(Message.channel == "sms", Message.external_id == sid)
        message = (await db.execute(query.with_for_update())).scalar_one_or_none()
        if message is None:  # the status came before our reply was stored: kept for it
            await remember(db, f"{EARLY_STATUS}{sid}|{new}", new, app[CLOCK].now())
            return
        if STATUS_RANK[new] <= STATUS_RANK.get(message.delivery_status or "", -1):
            return
        message.delivery_status = new
    await app[EVENTS].publish(
        "message.status",
        {
            "conversation_id": message.conversation_id,
            "message_id": message.id,
            "status": new,
            "error_code": form.get("ErrorCode") or None,
        },
    )


STORED = {"sms": store_message, "sms-status": store_status}
STORED_TOGETHER = {"sms": store_messages}


# opt-out ------------------------------------------------------------------------------------------------


def _phone(raw: str) -> str:
    """E.164 when it is a phone number (it is, from Twilio), else the text as sent."""
    try:
        return normalise_phone(raw)
    except InvalidInput:
        return raw.strip()


async def set_opted_out(app: web.Application, sender: str, ours: str, keyword: str) -> None:
    """Record (STOP...) or remove (START...) the opt-out of `sender` from our number `ours`."""
    phone, our_number, now = _phone(sender), _phone(ours), app[CLOCK].now()
    opting_out = keyword in OPT_OUT
    async with app[SESSIONS].begin() as db:
        if not opting_out:
            await db.execute(
                delete(SmsOptOut).where(SmsOptOut.phone == phone, SmsOptOut.our_number == our_number)
            )
        else:
            row = await db.get(SmsOptOut, (phone, our_number))
            if row is not None:
                row.changed_at = now
            else:
                try:
                    async with db.begin_nested():
                        db.add(SmsOptOut(phone=phone, our_number=our_number, changed_at=now))
                except IntegrityError:  # a retry stored it at the same moment
                    pass
    topic = "sms.opted_out" if opting_out else "sms.opted_in"
    await app[EVENTS].publish(topic, {"phone": phone, "our_number": our_number})


async def is_opted_out(db: AsyncSession, phone: str, ours: str) -> bool:
    """True when `phone` sent STOP to our number `ours` (and no START since)."""
    return await db.get(SmsOptOut, (_phone(phone), _phone(ours))) is not None


# media --------------------------------------------------------------------------------------------------


def media_entries(app: web.Application, form: dict[str, str]) -> list[dict[str, Any]]:
    """The message's media as stored: url, content_type, and pending or refused (with the reason)."""
    try:
        count = min(int(form.get("NumMedia", "0") or 0), MAX_MEDIA)
    except ValueError:
        count = 0
    entries = []
    for index in range(count):
        url = form.get(f"MediaUrl{index}", "")
        entry: dict[str, Any] = {
            "url": url,
            "content_type": form.get(f"MediaContentType{index}", "application/octet-stream"),
            "status": "pending",
        }
        reason = sms_media.refusal(url, app[SETTINGS])
        if reason:
            entry.update(status="refused", reason=reason)
        entries.append(entry)
    return entries


async def _record_media(app: web.Application, message_id: int, entries: list[dict[str, Any]]) -> bool:
    """Store the entries on the message; False when a retry finds them there already."""
    async with app[SESSIONS].begin() as db:
        message = await db.get(Message, message_id)
        if message is None or message.media:
            return False
        message.media = entries
    return True


async def _fetch_media(
    app: web.Application, conversation_id: int, message_id: int, entries: list[dict[str, Any]]
) -> None:
    """Fetch each pending medium in turn and record where it was kept or why not."""
    settings = app[SETTINGS]
    async with aiohttp.ClientSession() as session:
        for index, entry in enumerate(entries):
            if entry["status"] != "pending":
                continue
            name = sms_media.file_name(message_id, index, entry["url"], entry["content_type"])
            try:
                stored = await sms_media.fetch(settings, entry["url"], conversation_id, name, session)
                entries[index] = {**entry, "status": "stored", "path": stored.path, "bytes": stored.size}
            except sms_media.Refused as exc:
                entries[index] = {**entry, "status": "refused", "reason": str(exc)}
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                entries[index] = {**entry, "status": "failed", "reason": f"{type(exc).__name__}: {exc}"}
    async with app[SESSIONS].begin() as db:
        message = await db.get(Message, message_id)
        if message is not None:
            message.media = list(entries)
    await app[EVENTS].publish(
        "message.media", {"conversation_id": conversation_id, "message_id": message_id, "media": entries}
    )


async def drain(app: web.Application) -> None:
    """Wait for every media fetch under way (tests; a graceful shutdown)."""
    await app[MEDIA_JOBS].drain()


# sending ------------------------------------------------------------------------------------------------


async def send_sms(app: web.Application, conversation_id: int, author_id: int | None, body: str) -> Message:
    """Send `body` to the conversation's customer and store it; Conflict if they opted out."""
    if not body.strip():
        raise InvalidInput("the message is empty")
    if len(body) > MAX_BODY:
        raise InvalidInput(f"the message is longer than {MAX_BODY} characters")
    if app[TWILIO] is None:
        raise Conflict("SMS is not configured")
    settings = app[SETTINGS]
    async with app[SESSIONS]() as db:
        conversation = await _conversation(db, conversation_id)
        phone, ours = await reply_numbers(db, conversation, settings.twilio_phone_number)
        if await is_opted_out(db, phone, ours):
            raise Conflict(f"{phone} has opted out of SMS (sent STOP); nothing was sent")
    try:
        sent = await app[TWILIO].messages.create_async(
            to=phone,
            from_=ours,
            body=body,
            status_callback=f"{settings.public_url}/twilio/sms/status",
        )
    except TwilioException as exc:
        log.warning("Twilio refused an SMS of conversation %s: %s", conversation_id, exc)
        raise Conflict(f"Twilio refused the message: {exc}") from None
    return await _store_sent(app, conversation_id, author_id, body, sent.sid, sent.status)


async def _conversation(db: AsyncSession, conversation_id: int) -> Conversation:
    conversation = await db.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} does not exist")
    if conversation.channel != "sms":
        raise Conflict(f"conversation {conversation_id} is a {conversation.channel} conversation, not SMS")
    return conversation


async def reply_numbers(db: AsyncSession, conversation: Conversation, default_ours: str) -> tuple[str, str]:
    """Where a reply goes, and from which of our numbers: the customer's latest text in the conversation
    says both (the number they wrote from, the number they wrote to); else their first phone identity,
    from our configured number."""
    latest = (
        await db.execute(
            select(Message.attributes)
            .where(Message.conversation_id == conversation.id, Message.direction == "in")
            .order_by(Message.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none() or {}
    if latest.get("from"):
        return _phone(latest["from"]), _phone(latest.get("to") or default_ours)
    query = (
        select(CustomerIdentity.value)
        .where(CustomerIdentity.customer_id == conversation.customer_id, CustomerIdentity.kind == "phone")
        .order_by(CustomerIdentity.id)
        .limit(1)
    )
    phone = (await db.execute(query)).scalar_one_or_none()
    if phone is None:
        raise Conflict("the customer has no phone number")
    return phone, _phone(default_ours)


async def _store_sent(
    app: web.Application, conversation_id: int, author_id: int | None, body: str, sid: str, status: str | None
) -> Message:
    now = app[CLOCK].now()
    async with app[SESSIONS].begin() as db:
        early = select(WebhookReceipt.response).where(WebhookReceipt.key.startswith(f"{EARLY_STATUS}{sid}|"))
        statuses = [str(status)] if status else []
        statuses += [s for s in (await db.execute(early)).scalars() if s in STATUS_RANK]
        message = Message(
            conversation_id=conversation_id,
            channel="sms",
            direction="out",
            author_kind="agent" if author_id is not None else "system",
            author_id=author_id,
            body=body,
            external_id=sid,
            created_at=now,
            delivery_status=max(statuses, key=lambda s: STATUS_RANK.get(s, -1)) if statuses else None,
            media=[],
        )
        db.add(message)
        conversation = await db.get(Conversation, conversation_id)
        if conversation is not None:
            conversation.last_activity_at = now
        await db.flush()
    await app[EVENTS].publish(
        "message.sent",
        {
            "channel": "sms",
            "conversation_id": conversation_id,
            "message_id": message.id,
            "author_id": author_id,
            "delivery_status": message.delivery_status,
        },
    )
    return message


def message_json(message: Message) -> dict[str, Any]:
    """A stored message as the API shows it."""
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "direction": message.direction,
        "body": message.body,
        "external_id": message.external_id,
        "delivery_status": message.delivery_status,
        "created_at": message.created_at.isoformat(),
    }


# the agents' API -----------------------------------------------------------------------------------------


class SmsIn(BaseModel):
    """The text of a reply."""

    model_config = ConfigDict(extra="forbid")
    body: str = Field(min_length=1, max_length=MAX_BODY)


@api.post(
    "/api/conversations/{conversation_id}/sms",
    access=Access.AGENT,
    body=SmsIn,
    status=201,
    summary="Reply to the customer of an SMS conversation",
    responses={403: "Another agent's conversation", 404: "No such conversation", 409: "Opted out"},
)
async def reply(request: web.Request, body: SmsIn) -> dict[str, Any]:
    """Send an SMS; an agent may reply only in a conversation assigned to them, supervisors anywhere."""
    conversation_id = path_id(request, "conversation_id")
    user = request["user"]
    async with request.app[SESSIONS]() as db:
        conversation = await _conversation(db, conversation_id)
    if conversation.agent_id != user.id and user.role not in (Role.SUPERVISOR, Role.ADMIN):
        raise PermissionDenied("this conversation is assigned to another agent")
    return message_json(await send_sms(request.app, conversation_id, user.id, body.body))


# wiring -------------------------------------------------------------------------------------------------


def attach(app: web.Application) -> Callable[[], None]:
    """Keep the media fetches under way; returns what stops them (await `drain` first to let them end)."""
    jobs = app[MEDIA_JOBS] = BackgroundJobs("fetching MMS media failed")
    return jobs.cancel
