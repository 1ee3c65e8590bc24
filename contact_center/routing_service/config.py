"""Translating stored queues and users into the routing library's QueueConfig and AgentProfile."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contact_center.db.models import Queue, User
from routing.model import AgentProfile, EscalationStep, Fallback, QueueConfig, Strategy

ROUTED_ROLES = ("agent", "supervisor")
TICKET_CAPACITY = 5  # tickets an agent works at once unless their capacity names "ticket"
NAME_PATTERN = r"^[a-z0-9][a-z0-9_\-]{0,63}$"


class EscalationStepIn(BaseModel):
    """After `after_seconds` of waiting: lower levels, add an overflow queue, or drop the language."""

    model_config = ConfigDict(extra="forbid")
    after_seconds: float = Field(gt=0, le=86_400)
    lower_levels_by: int = Field(default=0, ge=0, le=9)
    add_queue: str | None = Field(default=None, pattern=NAME_PATTERN)
    drop_language: bool = False


class FallbackIn(BaseModel):
    """What the maximum wait leads to."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["queue", "voicemail", "callback", "ticket"]
    queue: str | None = Field(default=None, pattern=NAME_PATTERN)


class TransferIn(BaseModel):
    """Transfer to a queue or to an agent, with a note for them."""

    model_config = ConfigDict(extra="forbid")
    queue: str | None = Field(default=None, max_length=64)
    agent_id: int | None = Field(default=None, ge=1)
    note: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _one_target(self) -> TransferIn:
        if (self.queue is None) == (self.agent_id is None):
            raise ValueError("give either queue or agent_id")
        return self


class QueueIn(BaseModel):
    """A queue as administrators define it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(pattern=NAME_PATTERN)
    description: str = Field(default="", max_length=300)
    channels: list[Literal["voice", "sms", "email", "chat"]] = Field(default_factory=list, max_length=4)
    required_skills: dict[str, int] = Field(default_factory=dict, max_length=20)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    strategy: Strategy = Strategy.LONGEST_IDLE
    target_service_level: int = Field(default=80, ge=1, le=100, description="Percent answered within target.")
    target_answer_seconds: int = Field(default=20, ge=1, le=86_400)
    max_wait_seconds: int | None = Field(default=600, ge=1, le=7 * 86_400)
    escalation: list[EscalationStepIn] = Field(default_factory=list, max_length=10)
    voice_fallback: FallbackIn | None = None
    text_fallback: FallbackIn | None = None
    wrap_up_seconds: float = Field(default=30, ge=0, le=3600)
    offer_timeout_seconds: float = Field(default=20, ge=3, le=600)
    preferred_agent_seconds: float = Field(default=30, ge=0, le=3600)
    missed_offers_limit: int = Field(default=3, ge=0, le=100)
    priority: int = Field(default=0, ge=-10, le=10)

    @field_validator("required_skills")
    @classmethod
    def _levels(cls, value: dict[str, int]) -> dict[str, int]:
        for skill, level in value.items():
            if not 1 <= level <= 10:
                raise ValueError(f"skill {skill!r}: level must be 1-10")
        return value

    @field_validator("escalation")
    @classmethod
    def _ordered(cls, value: list[EscalationStepIn]) -> list[EscalationStepIn]:
        times = [step.after_seconds for step in value]
        if times != sorted(times):
            raise ValueError("escalation steps must be in order of after_seconds")
        return value


def queue_config(row: Queue) -> QueueConfig:
    """The routing library's view of a stored queue."""
    return QueueConfig(
        name=row.name,
        skills=dict(row.required_skills or {}),
        language=row.language,
        strategy=Strategy(row.strategy),
        target_service_level=row.target_service_level / 100,
        target_seconds=float(row.target_answer_seconds),
        escalation=tuple(EscalationStep(**step) for step in row.escalation or []),
        max_wait_seconds=float(row.max_wait_seconds) if row.max_wait_seconds else None,
        voice_fallback=Fallback(**row.voice_fallback) if row.voice_fallback else None,
        text_fallback=Fallback(**row.text_fallback) if row.text_fallback else None,
        wrap_up_seconds=row.wrap_up_seconds,
        offer_timeout_seconds=row.offer_timeout_seconds,
        preferred_agent_seconds=row.preferred_agent_seconds,
        missed_offers_limit=row.missed_offers_limit,
    )


def agent_profile(user: User) -> AgentProfile:
    """An agent's routing profile from their user record (skills must be loaded)."""
    return AgentProfile(
        id=str(user.id),
        skills={s.skill.name: s.level for s in user.skills},
        languages=frozenset(user.languages or []),
        capacity={"ticket": TICKET_CAPACITY, **(user.capacity or {})},
        queues=frozenset(user.queues) if user.queues else None,
    )


def queue_json(row: Queue) -> dict[str, Any]:
    """A queue as the API shows it."""
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "channels": row.channels,
        "required_skills": row.required_skills,
        "language": row.language,
        "strategy": row.strategy,
        "target_service_level": row.target_service_level,
        "target_answer_seconds": row.target_answer_seconds,
        "max_wait_seconds": row.max_wait_seconds,
        "escalation": row.escalation,
        "voice_fallback": row.voice_fallback,
        "text_fallback": row.text_fallback,
        "wrap_up_seconds": row.wrap_up_seconds,
        "offer_timeout_seconds": row.offer_timeout_seconds,
        "preferred_agent_seconds": row.preferred_agent_seconds,
        "missed_offers_limit": row.missed_offers_limit,
        "priority": row.priority,
    }
