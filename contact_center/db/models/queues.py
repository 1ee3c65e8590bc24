"""Queue definitions that routing reads (requirements, targets, limits)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from contact_center.db.base import Base, JSONType


class Queue(Base):
    """A routing queue: which skills it needs and the service level it aims for."""

    __tablename__ = "queues"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(300), default="")
    channels: Mapped[list[str]] = mapped_column(JSONType, default=list)
    required_skills: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    language: Mapped[str | None] = mapped_column(String(16))
    target_service_level: Mapped[int] = mapped_column(Integer, default=80)
    target_answer_seconds: Mapped[int] = mapped_column(Integer, default=20)
    max_wait_seconds: Mapped[int] = mapped_column(Integer, default=600)
    strategy: Mapped[str] = mapped_column(String(32), default="longest_idle", server_default="longest_idle")
    escalation: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list, server_default="[]")
    voice_fallback: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    text_fallback: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    wrap_up_seconds: Mapped[float] = mapped_column(Float, default=30, server_default="30")
    offer_timeout_seconds: Mapped[float] = mapped_column(Float, default=20, server_default="20")
    preferred_agent_seconds: Mapped[float] = mapped_column(Float, default=30, server_default="30")
    missed_offers_limit: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
