"""What agents work with besides the contacts: wrap-up codes, canned replies and the knowledge base.

Administrators keep these lists; agents read them in the console (docs/api.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from contact_center.db.base import Base, JSONType, UTCDateTime


class WrapUpCode(Base):
    """A code agents pick: a disposition (how the contact ended), a contact reason (why the customer came),
    or an away reason (why the agent paused)."""

    __tablename__ = "wrap_up_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    active: Mapped[bool] = mapped_column(default=True, server_default=true())

    __table_args__ = (UniqueConstraint("kind", "code", name="uq_wrap_up_codes_kind_code"),)


class CannedReply(Base):
    """A prepared answer with a shortcut (`/refund`) and placeholders such as {{customer.first_name}}."""

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shortcut: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class KnowledgeCategory(Base):
    """A category of knowledge articles; categories nest (parent_id)."""

    __tablename__ = "kb_categories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("kb_categories.id"))
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class KnowledgeArticle(Base):
    """An article in Markdown (rendered and sanitised for display). A "defect" article is an entry of the
    product defect library: symptom, cause, solution and the products it affects."""

    __tablename__ = "kb_articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("kb_categories.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[Any]] = mapped_column(JSONType, default=list, server_default="[]")
    published: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(16), default="article", server_default="article")
    symptom: Mapped[str] = mapped_column(Text, default="", server_default="")
    cause: Mapped[str] = mapped_column(Text, default="", server_default="")
    solution: Mapped[str] = mapped_column(Text, default="", server_default="")
    affected_products: Mapped[list[Any]] = mapped_column(JSONType, default=list, server_default="[]")
    usage_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
