"""Canned replies: prepared answers agents insert by shortcut (`/refund`), with placeholders filled from
the conversation's customer and the agent (`{{customer.first_name}}`).

`placeholders_in` and `render` are pure; the rest reads and writes the database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.db.models import CannedReply, Conversation, Customer, User
from contact_center.errors import Conflict, NotFound
from contact_center.users import service as users

PLACEHOLDERS = (
    "customer.first_name",
    "customer.last_name",
    "customer.name",
    "agent.first_name",
    "agent.name",
    "conversation.id",
    "conversation.subject",
)
SHORTCUT = re.compile(r"^/?[a-z0-9_-]{1,31}$")
LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
SEARCH_LIMIT = 50
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


class CannedReplyIn(BaseModel):
    """A canned reply: shortcut, title, body with placeholders, and optionally the language it is in."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    shortcut: str = Field(
        max_length=32, description="`/refund` or `refund`: lower-case letters, digits, _ and -; up to 31."
    )
    title: str = Field(min_length=1, max_length=120)
    body: str = Field(min_length=1, max_length=10_000)
    language: str | None = Field(default=None, pattern=LANGUAGE_PATTERN, description="None: any language.")
    active: bool | None = Field(default=None, description="Default: true for a new reply, unchanged on PUT.")

    @field_validator("shortcut")
    @classmethod
    def _shortcut(cls, value: str) -> str:
        value = value.lower()
        if not SHORTCUT.match(value):
            raise ValueError("a shortcut is up to 31 lower-case letters, digits, _ or -, with or without '/'")
        return "/" + value.lstrip("/")

    @field_validator("body")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        unknown = sorted(set(placeholders_in(value)) - set(PLACEHOLDERS))
        if unknown:
            listed = ", ".join("{{" + p + "}}" for p in PLACEHOLDERS)
            raise ValueError(f"unknown placeholder(s) {', '.join(unknown)}; known ones are {listed}")
        return value


class RenderIn(BaseModel):
    """The conversation whose customer fills the placeholders."""

    model_config = ConfigDict(extra="forbid")
    conversation_id: int = Field(ge=1, lt=2**63)


def placeholders_in(body: str) -> list[str]:
    """The placeholder names in a body, in order (`{{ customer.name }}` gives `customer.name`)."""
    return [m.group(1) for m in _PLACEHOLDER.finditer(body)]


def render(body: str, values: Mapping[str, str | None]) -> str:
    """The body with every placeholder replaced by its value; a missing or unknown one becomes ''."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1)) or "", body)


def placeholder_values(
    customer: Customer | None, agent: User | None, conversation: Conversation | None
) -> dict[str, str]:
    """What each placeholder stands for, from whatever is known ('' for the rest)."""
    given = (customer.given_name or "").strip() if customer else ""
    family = (customer.family_name or "").strip() if customer else ""
    customer_name = ((customer.display_name or "").strip() or f"{given} {family}".strip()) if customer else ""
    agent_name = (agent.display_name or "").strip() if agent else ""
    return {
        "customer.first_name": given,
        "customer.last_name": family,
        "customer.name": customer_name,
        "agent.first_name": agent_name.split()[0] if agent_name else "",
        "agent.name": agent_name,
        "conversation.id": str(conversation.id) if conversation else "",
        "conversation.subject": (conversation.subject or "").strip() if conversation else "",
    }


def reply_json(row: CannedReply) -> dict[str, Any]:
    """A canned reply as the API shows it."""
    return {
        "id": row.id,
        "shortcut": row.shortcut,
        "title": row.title,
        "body": row.body,
        "language": row.language,
        "active": row.active,
        "placeholders": sorted(set(placeholders_in(row.body))),
        "updated_at": row.updated_at.isoformat(),
    }


async def search_replies(
    db: AsyncSession,
    text: str | None = None,
    language: str | None = None,
    *,
    include_inactive: bool = False,
    limit: int = SEARCH_LIMIT,
) -> list[CannedReply]:
    """Replies whose shortcut, title or body contain `text` (any case), shortcut matches first.

    With a language, replies in that language and those for any language (language unset). The matching is
    done here rather than in SQL so that case folding is the same for every alphabet on every database.
    """
    stmt = select(CannedReply)
    if not include_inactive:
        stmt = stmt.where(CannedReply.active.is_(True))
    if language:
        stmt = stmt.where((CannedReply.language == language) | CannedReply.language.is_(None))
    rows = list((await db.execute(stmt.order_by(CannedReply.shortcut))).scalars())
    needle = (text or "").strip().casefold()
    if not needle:
        return rows[:limit]
    ranked = []
    for row in rows:
        fields = (row.shortcut.casefold(), row.title.casefold(), row.body.casefold())
        rank = next((i for i, value in enumerate(fields) if needle in value), None)
        if rank is None and needle.startswith("/") and needle[1:] in fields[0]:
            rank = 0
        if rank is not None:
            ranked.append((rank, row.shortcut, row))
    ranked.sort(key=lambda item: item[:2])
    return [row for _, _, row in ranked[:limit]]


async def get_reply(db: AsyncSession, reply_id: int, *, include_inactive: bool = True) -> CannedReply:
    """A canned reply by id; NotFound otherwise (and for a deactivated one unless asked)."""
    row = await db.get(CannedReply, reply_id)
    if row is None or not (row.active or include_inactive):
        raise NotFound(f"canned reply {reply_id} does not exist")
    return row


async def create_reply(
    db: AsyncSession, body: CannedReplyIn, actor_id: int | None, now: datetime
) -> CannedReply:
    """Add a canned reply; Conflict if the shortcut is taken."""
    await _shortcut_free(db, body.shortcut)
    row = CannedReply(**_fields(body), active=body.active is not False, updated_at=now)
    db.add(row)
    await _flush_unique(db, body.shortcut)
    users.audit(db, actor_id, "canned_reply.created", "canned_reply", row.id, _audit_details(row), now)
    return row


async def update_reply(
    db: AsyncSession, reply_id: int, body: CannedReplyIn, actor_id: int | None, now: datetime
) -> CannedReply:
    """Replace a canned reply's shortcut, title, body, language and active flag."""
    row = await get_reply(db, reply_id)
    if body.shortcut != row.shortcut:
        await _shortcut_free(db, body.shortcut)
    for key, value in _fields(body).items():
        setattr(row, key, value)
    if body.active is not None:
        row.active = body.active
    row.updated_at = now
    await _flush_unique(db, body.shortcut)
    users.audit(db, actor_id, "canned_reply.updated", "canned_reply", row.id, _audit_details(row), now)
    return row


async def deactivate_reply(db: AsyncSession, reply_id: int, actor_id: int | None, now: datetime) -> None:
    """Hide a canned reply from agents (it stays, and can be brought back with an update)."""
    row = await get_reply(db, reply_id)
    if row.active:
        row.active = False
        row.updated_at = now
        users.audit(
            db, actor_id, "canned_reply.deactivated", "canned_reply", row.id, {"shortcut": row.shortcut}, now
        )


async def render_for(db: AsyncSession, reply_id: int, conversation_id: int, agent: User) -> str:
    """An active canned reply rendered for a conversation's customer and this agent."""
    row = await get_reply(db, reply_id, include_inactive=False)
    conversation = await db.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} does not exist")
    customer = await db.get(Customer, conversation.customer_id)
    return render(row.body, placeholder_values(customer, agent, conversation))


async def _shortcut_free(db: AsyncSession, shortcut: str) -> None:
    taken = (
        await db.execute(select(CannedReply.id, CannedReply.active).where(CannedReply.shortcut == shortcut))
    ).first()
    if taken is not None:
        hint = "" if taken.active else " (by a deactivated reply; change that one instead)"
        raise Conflict(f"the shortcut {shortcut} is taken{hint}", id=taken.id)


async def _flush_unique(db: AsyncSession, shortcut: str) -> None:
    try:
        async with db.begin_nested():
            await db.flush()
    except IntegrityError:
        raise Conflict(f"the shortcut {shortcut} is taken") from None


def _fields(body: CannedReplyIn) -> dict[str, Any]:
    return body.model_dump(include={"shortcut", "title", "body", "language"})


def _audit_details(row: CannedReply) -> dict[str, Any]:
    return {
        "shortcut": row.shortcut,
        "title": row.title,
        "language": row.language,
        "active": row.active,
        "body_chars": len(row.body),
    }
