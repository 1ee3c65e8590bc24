"""Plain data of the routing domain: tasks, agents, queues, reservations, and the events between them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Presence(StrEnum):
    """What the agent chose: to take work, to pause (with a reason), or to be logged out."""

    OFFLINE = "offline"
    AVAILABLE = "available"
    AWAY = "away"


class TaskState(StrEnum):
    """Where a task is in its life."""

    QUEUED = "queued"
    RESERVED = "reserved"
    ASSIGNED = "assigned"
    WRAPPING = "wrapping"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ABANDONED = "abandoned"
    FELL_BACK = "fell_back"


FINAL_STATES = frozenset({TaskState.COMPLETED, TaskState.CANCELLED, TaskState.ABANDONED, TaskState.FELL_BACK})
WAITING_STATES = frozenset({TaskState.QUEUED, TaskState.RESERVED})


class Strategy(StrEnum):
    """How a queue picks among eligible agents."""

    LONGEST_IDLE = "longest_idle"
    MOST_SKILLED = "most_skilled"
    LEAST_OCCUPIED = "least_occupied"
    ROUND_ROBIN = "round_robin"


class ReservationState(StrEnum):
    """An offer's outcome."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Target:
    """One way a task may be served: agents of `queue` with these minimum skill levels and language."""

    queue: str
    skills: dict[str, int] = field(default_factory=dict)
    language: str | None = None


@dataclass(frozen=True)
class EscalationStep:
    """After `after_seconds` of waiting: lower every required level, and/or also offer to another queue."""

    after_seconds: float
    lower_levels_by: int = 0
    add_queue: str | None = None
    drop_language: bool = False


@dataclass(frozen=True)
class Fallback:
    """At the maximum wait: move to another queue, or leave routing (voicemail, callback, ticket)."""

    action: str  # "queue", "voicemail", "callback" or "ticket"
    queue: str | None = None


@dataclass(frozen=True)
class QueueConfig:
    """A queue's requirements, targets and rules."""

    name: str
    skills: dict[str, int] = field(default_factory=dict)
    language: str | None = None
    strategy: Strategy = Strategy.LONGEST_IDLE
    target_service_level: float = 0.8
    target_seconds: float = 20.0
    escalation: tuple[EscalationStep, ...] = ()
    max_wait_seconds: float | None = None
    voice_fallback: Fallback | None = None
    text_fallback: Fallback | None = None
    wrap_up_seconds: float = 30.0
    offer_timeout_seconds: float = 20.0
    preferred_agent_seconds: float = 30.0
    missed_offers_limit: int = 3

    def target(self) -> Target:
        """The queue's own target, before any escalation."""
        return Target(self.name, dict(self.skills), self.language)

    def fallback_for(self, channel: str) -> Fallback | None:
        """Voice and text contacts have different ways out."""
        return self.voice_fallback if channel == "voice" else self.text_fallback


@dataclass
class Task:
    """A contact waiting for, or being handled by, an agent."""

    id: str
    channel: str
    queue: str
    targets: list[Target]
    created_at: float
    priority: int = 0
    attributes: dict[str, Any] = field(default_factory=dict)
    preferred_agent: str | None = None
    state: TaskState = TaskState.QUEUED
    escalation_step: int = 0
    agent_id: str | None = None
    reservation_id: str | None = None
    declined_by: list[str] = field(default_factory=list)
    queued_at: float = 0.0
    assigned_at: float | None = None
    completed_at: float | None = None
    wrap_up_until: float | None = None
    ended_at: float | None = None
    end_reason: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.queued_at:
            self.queued_at = self.created_at


@dataclass(frozen=True)
class AgentProfile:
    """What an agent can do: skills with levels 1-10, languages, capacity per channel, queues served."""

    id: str
    skills: dict[str, int] = field(default_factory=dict)
    languages: frozenset[str] = frozenset()
    capacity: dict[str, int] = field(default_factory=lambda: {"voice": 1, "chat": 3, "email": 5, "sms": 3})
    queues: frozenset[str] | None = None


@dataclass
class Agent:
    """An agent's profile and live state."""

    profile: AgentProfile
    presence: Presence = Presence.OFFLINE
    away_reason: str | None = None
    presence_since: float = 0.0
    idle_since: float = 0.0
    tasks: dict[str, str] = field(default_factory=dict)
    offer: str | None = None
    missed_offers: int = 0
    last_offered_at: float = 0.0

    @property
    def id(self) -> str:
        """The agent's id."""
        return self.profile.id


@dataclass
class Reservation:
    """An offer of a task to one agent, open until it is accepted, rejected, withdrawn or times out."""

    id: str
    task_id: str
    agent_id: str
    created_at: float
    expires_at: float
    state: ReservationState = ReservationState.PENDING


@dataclass(frozen=True)
class RoutingEvent:
    """Something that changed, for statistics, the wallboard and the database."""

    kind: str
    at: float
    task_id: str | None = None
    agent_id: str | None = None
    queue: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
