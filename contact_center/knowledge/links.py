"""Knowledge articles on tickets: the articles an agent linked to a ticket (each first link counts as a use
of the article and is a line of the ticket's history) and the articles suggested from what the ticket says.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.db.models import (
    Conversation,
    KnowledgeArticle,
    Ticket,
    TicketArticle,
    TicketConversation,
    TicketEvent,
)
from contact_center.errors import NotFound
from contact_center.knowledge import service

SUGGEST_FROM_EVENTS = 20
TEXT_EVENTS = ("note", "reply")  # the history lines whose body is something someone wrote


async def link_article(
    db: AsyncSession, ticket_id: int, article_id: int, user_id: int | None, now: datetime
) -> bool:
    """Link an article to a ticket: True the first time (the article's usage count goes up by one and the
    ticket's history gets an "article_linked" event), False when it was linked already (nothing changes).
    NotFound for an unknown ticket or article."""
    ticket = await _ticket(db, ticket_id)
    article = await _article(db, article_id)
    if await db.get(TicketArticle, (ticket_id, article_id)) is not None:
        return False
    try:
        async with db.begin_nested():
            db.add(
                TicketArticle(ticket_id=ticket_id, article_id=article_id, linked_at=now, linked_by=user_id)
            )
            await db.flush()
    except IntegrityError:  # linked at the same moment by someone else: theirs counts
        return False
    await service.count_use(db, article_id)
    _history(db, ticket, "article_linked", article, user_id, now)
    return True


async def unlink_article(
    db: AsyncSession, ticket_id: int, article_id: int, user_id: int | None, now: datetime
) -> bool:
    """Remove an article from a ticket: True if it was linked (the history gets an "article_unlinked"
    event; the usage count stays, since it counts uses), False if it was not. NotFound for an unknown ticket
    or article."""
    ticket = await _ticket(db, ticket_id)
    article = await _article(db, article_id)
    removed = await db.execute(
        delete(TicketArticle)
        .where(TicketArticle.ticket_id == ticket_id, TicketArticle.article_id == article_id)
        .returning(TicketArticle.article_id)
    )
    if removed.first() is None:
        return False
    _history(db, ticket, "article_unlinked", article, user_id, now)
    return True


async def articles_of_ticket(db: AsyncSession, ticket_id: int) -> list[dict[str, Any]]:
    """The articles linked to a ticket, first linked first, each as in the article list with `linked_at`
    and `linked_by`. NotFound for an unknown ticket."""
    await _ticket(db, ticket_id)
    rows = await db.execute(
        select(KnowledgeArticle, TicketArticle)
        .join(TicketArticle, TicketArticle.article_id == KnowledgeArticle.id)
        .where(TicketArticle.ticket_id == ticket_id)
        .order_by(TicketArticle.linked_at, TicketArticle.article_id)
    )
    return [
        {
            **service.article_json(article),
            "linked_at": link.linked_at.isoformat(),
            "linked_by": link.linked_by,
        }
        for article, link in rows.all()
    ]


async def suggest_for_ticket(db: AsyncSession, ticket_id: int, limit: int = 5) -> list[dict[str, Any]]:
    """The published articles that best match a ticket: its subject and description, its latest notes and
    replies, and its conversations' subjects and latest customer messages. Each as the conversation
    suggestions, with `linked`: whether it is linked to the ticket already. NotFound for an unknown ticket."""
    suggestions = await service.suggest_for_text(db, await ticket_text(db, ticket_id), limit)
    linked = set(
        (
            await db.execute(select(TicketArticle.article_id).where(TicketArticle.ticket_id == ticket_id))
        ).scalars()
    )
    return [{**suggestion, "linked": suggestion["id"] in linked} for suggestion in suggestions]


async def ticket_text(db: AsyncSession, ticket_id: int) -> str:
    """What a ticket says, for matching articles (NotFound for an unknown ticket)."""
    ticket = await _ticket(db, ticket_id)
    events = await db.execute(
        select(TicketEvent.body)
        .where(TicketEvent.ticket_id == ticket_id, TicketEvent.action.in_(TEXT_EVENTS))
        .order_by(TicketEvent.at.desc(), TicketEvent.id.desc())
        .limit(SUGGEST_FROM_EVENTS)
    )
    linked = await db.execute(
        select(TicketConversation.conversation_id).where(TicketConversation.ticket_id == ticket_id)
    )
    conversation_ids = sorted(
        set(linked.scalars()) | ({ticket.conversation_id} if ticket.conversation_id is not None else set())
    )
    subjects = (
        await db.execute(select(Conversation.subject).where(Conversation.id.in_(conversation_ids)))
    ).scalars()
    parts = [
        ticket.subject,
        ticket.description,
        *events.scalars(),
        *subjects,
        *await service.customer_messages(db, conversation_ids),
    ]
    return "\n".join(part for part in parts if part)


async def _ticket(db: AsyncSession, ticket_id: int) -> Ticket:
    ticket = await db.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(f"ticket {ticket_id} does not exist")
    return ticket


async def _article(db: AsyncSession, article_id: int) -> KnowledgeArticle:
    return await service.get_article(db, article_id, include_unpublished=True)


def _history(
    db: AsyncSession,
    ticket: Ticket,
    action: str,
    article: KnowledgeArticle,
    user_id: int | None,
    now: datetime,
) -> None:
    db.add(
        TicketEvent(
            ticket_id=ticket.id,
            at=now,
            actor_id=user_id,
            action=action,
            data={"article_id": article.id, "title": article.title},
        )
    )
    ticket.updated_at = now
