"""Satisfaction surveys: sent when a ticket is resolved, answered 1-5 with a comment, a low score reopens the
ticket and escalates it to a supervisor for recovery.

A survey goes through the customer's channel (the ticket's latest written conversation): inline in a live
chat, "reply 1-5" by SMS, a link to a signed survey page by email. The page's token is an HMAC of the
survey id under the app's key, so nobody can answer somebody else's survey.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.db.models import Conversation, CustomerIdentity, Ticket, TicketConversation, TicketSurvey
from contact_center.errors import Conflict, NotFound
from contact_center.reports.store import count_rating
from contact_center.tickets.notify import Notice, recipients, record
from contact_center.tickets.ports import SurveyInvite
from contact_center.tickets.service import SYSTEM, Effects, TicketService, writable_conversation
from contact_center.tickets.workflow import Action, ActionKind, IllegalTransition, TicketState

log = logging.getLogger(__name__)
SMS_ANSWER = re.compile(r"^\s*([1-5])(?:\s*[.!]?\s*$|[\s.!,:-]+(.*)$)", re.DOTALL)


def survey_token(key: bytes, survey_id: int) -> str:
    """The capability to answer one survey: its id and an HMAC of it."""
    mac = hmac.new(key, f"ticket-survey|{survey_id}".encode(), hashlib.sha256).digest()
    return f"{survey_id}.{base64.urlsafe_b64encode(mac[:18]).decode()}"


def survey_of_token(key: bytes, token: object) -> int | None:
    """The survey id a token stands for; None for anything we did not make."""
    if not isinstance(token, str) or len(token) > 80 or not token.isascii():
        return None
    head, _, _ = token.partition(".")
    if not head.isdecimal() or len(head) > 18:
        return None
    return int(head) if hmac.compare_digest(token, survey_token(key, int(head))) else None


@dataclass(frozen=True)
class SurveyResult:
    """What an answer did."""

    survey_id: int
    ticket_id: int
    score: int
    reopened: bool
    escalated: bool


class Surveys:
    """Sends surveys after resolution and takes the answers."""

    def __init__(self, service: TicketService, key: bytes, public_url: str) -> None:
        self.service, self.key, self.public_url = service, key, public_url.rstrip("/")
        service.after_commit.append(self._on_committed)

    async def _on_committed(self, effects: Effects) -> None:
        if effects.survey:
            await self.send(effects.ticket_id)

    async def send(self, ticket_id: int) -> int | None:
        """Create the next survey round of a resolved ticket and send it; None when the customer cannot
        be reached in writing (the history says so)."""
        service, now = self.service, self.service.clock.now()
        async with service.sessions.begin() as db:
            ticket = await service._locked(db, ticket_id)
            if ticket.status != TicketState.RESOLVED.value:
                return None
            conversation = await _survey_conversation(db, ticket)
            if conversation is None:
                db.add(
                    service._event(
                        ticket,
                        "survey_skipped",
                        SYSTEM,
                        now,
                        reason="no written conversation to send a survey through",
                    )
                )
                return None
            rounds = (
                await db.execute(select(func.count()).where(TicketSurvey.ticket_id == ticket.id))
            ).scalar_one()
            survey = TicketSurvey(
                ticket_id=ticket.id,
                round=rounds + 1,
                customer_id=ticket.customer_id,
                channel=conversation.channel,
                conversation_id=conversation.id,
                sent_at=now,
                expires_at=now + timedelta(days=service.settings.survey_valid_days),
            )
            db.add(survey)
            await db.flush()
            db.add(
                service._event(
                    ticket,
                    "survey_sent",
                    SYSTEM,
                    now,
                    data={"survey_id": survey.id, "channel": conversation.channel},
                )
            )
        invite = SurveyInvite(
            survey.id, ticket_id, conversation.id, conversation.channel, self.url(survey.id)
        )
        try:
            await service.outbound.survey(invite)
        except Exception:
            log.exception("could not send survey %s of ticket %s", survey.id, ticket_id)
        return survey.id

    def url(self, survey_id: int) -> str:
        """The signed page where the customer answers."""
        return f"{self.public_url}/survey/{survey_token(self.key, survey_id)}"

    async def view(self, survey_id: int) -> dict[str, Any]:
        """What the survey page shows."""
        async with self.service.sessions() as db:
            survey = await db.get(TicketSurvey, survey_id)
            if survey is None:
                raise NotFound("no such survey")
            ticket = await db.get(Ticket, survey.ticket_id)
            assert ticket is not None
            return {
                "survey_id": survey.id,
                "ticket_id": ticket.id,
                "subject": ticket.subject,
                "answered": survey.answered_at is not None,
                "score": survey.score,
                "expired": survey.expires_at <= self.service.clock.now(),
            }

    async def answer(self, survey_id: int, score: int, comment: str = "") -> SurveyResult:
        """Store the rating (once: a second answer is a Conflict); a low one reopens the ticket if it is
        still resolved and escalates it to the top tier, telling the supervisors."""
        service, now = self.service, self.service.clock.now()
        low = score <= service.settings.survey_low_score
        async with service.sessions.begin() as db:
            survey = await db.get(TicketSurvey, survey_id)
            if survey is None:
                raise NotFound("no such survey")
            ticket = await service._locked(db, survey.ticket_id)
            await db.refresh(survey)
            if survey.answered_at is not None:
                raise Conflict("this survey has been answered already; thank you")
            if survey.expires_at <= now:
                raise Conflict("this survey has expired")
            survey.score, survey.comment, survey.answered_at = score, comment.strip(), now
            await self._count(db, ticket, score, now)
            effects = Effects(ticket.id)
            db.add(
                service._event(
                    ticket,
                    "survey_answered",
                    SYSTEM,
                    now,
                    body=survey.comment,
                    data={"survey_id": survey.id, "score": score, "round": survey.round},
                )
            )
            reopened = escalated = False
            if low:
                reopened, escalated = await self._recover(db, ticket, survey, effects, now)
            effects.events.append(("ticket.survey", {"ticket_id": ticket.id, "score": score}))
        await service._after(effects)
        return SurveyResult(survey_id, ticket.id, score, reopened, escalated)

    async def _count(self, db: AsyncSession, ticket: Ticket, score: int, now: datetime) -> None:
        """Count the rating for the ticket's queue and assignee, and its conversation's channel."""
        conversation = await db.get(Conversation, ticket.conversation_id) if ticket.conversation_id else None
        await count_rating(
            db,
            at=now,
            queue=ticket.queue or (conversation.queue if conversation else None),
            channel=conversation.channel if conversation else "ticket",
            agent_id=ticket.assignee_id,
            score=score,
            zone=ZoneInfo(self.service.settings.timezone),
        )

    async def _recover(
        self, db: AsyncSession, ticket: Ticket, survey: TicketSurvey, effects: Effects, now: datetime
    ) -> tuple[bool, bool]:
        service = self.service
        reason = f"the customer rated {survey.score}/5"
        reopened = escalated = False
        if ticket.status == TicketState.RESOLVED.value:
            await service._transition(db, ticket, Action(ActionKind.REOPEN, now, SYSTEM, reason), effects)
            reopened = True
        if ticket.status != TicketState.CLOSED.value:
            category = await service._category(db, ticket.category, existing=True)
            top = len(category.tiers or []) or 3
            action = Action(ActionKind.ESCALATE, now, SYSTEM, reason, f"survey:low:{survey.round}", top)
            try:
                await service._escalate(db, ticket, action, effects)
                escalated = True
            except IllegalTransition as refused:
                log.info("low survey on ticket %s not escalated: %s", ticket.id, refused)
        if not escalated:  # closed, or escalated for it already: the supervisors still hear of it
            notice = Notice(
                "survey_low",
                ticket.id,
                f"Ticket T-{ticket.id}: {reason}",
                survey.comment or "",
                f"survey_low:{ticket.id}:{survey.round}",
            )
            effects.notify = bool(
                await record(db, notice, await recipients(db, ticket, ["supervisors"]), now)
            )
        return reopened, escalated

    async def awaits_sms(self, phone: str, text: str) -> bool:
        """True when `text` from `phone` reads as a rating and that customer has an open SMS survey: the
        message answers it (and is no new contact to route)."""
        if SMS_ANSWER.match(text or "") is None:
            return False
        async with self.service.sessions() as db:
            query = (
                select(TicketSurvey.id)
                .join(CustomerIdentity, CustomerIdentity.customer_id == TicketSurvey.customer_id)
                .where(
                    CustomerIdentity.kind == "phone",
                    CustomerIdentity.value == phone,
                    TicketSurvey.channel == "sms",
                    TicketSurvey.answered_at.is_(None),
                    TicketSurvey.expires_at > self.service.clock.now(),
                )
                .limit(1)
            )
            return (await db.execute(query)).scalar_one_or_none() is not None

    async def answer_sms(self, conversation_id: int, text: str) -> SurveyResult | None:
        """An SMS that answers the customer's open SMS survey ("1" to "5", maybe a comment after it);
        None when the text is not an answer or no survey waits, so it goes on as a normal message."""
        match = SMS_ANSWER.match(text or "")
        if match is None:
            return None
        now = self.service.clock.now()
        async with self.service.sessions() as db:
            query = (
                select(TicketSurvey.id)
                .join(Conversation, Conversation.customer_id == TicketSurvey.customer_id)
                .where(
                    Conversation.id == conversation_id,
                    TicketSurvey.channel == "sms",
                    TicketSurvey.answered_at.is_(None),
                    TicketSurvey.expires_at > now,
                )
                .order_by(TicketSurvey.sent_at.desc())
                .limit(1)
            )
            survey_id = (await db.execute(query)).scalar_one_or_none()
        if survey_id is None:
            return None
        return await self.answer(survey_id, int(match.group(1)), match.group(2) or "")


async def _survey_conversation(db: AsyncSession, ticket: Ticket) -> Conversation | None:
    """The ticket's latest written conversation (a call cannot carry a survey)."""
    query = (
        select(Conversation)
        .join(TicketConversation, TicketConversation.conversation_id == Conversation.id)
        .where(TicketConversation.ticket_id == ticket.id, writable_conversation())
        .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        .limit(1)
    )
    return (await db.execute(query)).scalar_one_or_none()
