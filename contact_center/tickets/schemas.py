"""What clients send to the ticket API, validated."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_TEXT = 20_000
Priority = Literal["low", "normal", "high", "urgent"]
Severity = Literal["minor", "major", "critical"]
PRIORITIES: tuple[str, ...] = ("low", "normal", "high", "urgent")
SEVERITIES: tuple[str, ...] = ("minor", "major", "critical")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _tags(values: list[str]) -> list[str]:
    cleaned = sorted({value.strip().lower() for value in values if value.strip()})
    if any(len(tag) > 40 for tag in cleaned):
        raise ValueError("a tag has at most 40 characters")
    return cleaned


def _fields(value: dict[str, Any]) -> dict[str, Any]:
    for key, item in value.items():
        if not key or len(key) > 64:
            raise ValueError("custom field names have 1 to 64 characters")
        if not (item is None or isinstance(item, str | int | float | bool)) or len(str(item)) > 1000:
            raise ValueError(f"custom field {key!r} must be a short text, number or true/false")
    return value


class TicketCreate(_Strict):
    """A new ticket about a customer, optionally from one of their conversations."""

    customer_id: int
    subject: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=MAX_TEXT)
    category: str = Field(default="service_request", min_length=1, max_length=32)
    priority: Priority | None = None
    severity: Severity = "minor"
    conversation_id: int | None = None
    assignee_id: int | None = None
    team_id: int | None = None
    tags: list[str] = Field(default_factory=list, max_length=20)
    custom_fields: dict[str, Any] = Field(default_factory=dict, max_length=30)

    _check_tags = field_validator("tags")(_tags)
    _check_fields = field_validator("custom_fields")(_fields)


class TicketUpdate(_Strict):
    """Fields an agent may change; only those given change."""

    subject: str | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=MAX_TEXT)
    category: str | None = Field(default=None, min_length=1, max_length=32)
    priority: Priority | None = None
    severity: Severity | None = None
    assignee_id: int | None = None
    team_id: int | None = None
    tags: list[str] | None = Field(default=None, max_length=20)
    custom_fields: dict[str, Any] | None = Field(default=None, max_length=30)

    _check_tags = field_validator("tags")(lambda v: None if v is None else _tags(v))
    _check_fields = field_validator("custom_fields")(lambda v: None if v is None else _fields(v))

    @model_validator(mode="after")
    def _no_null_for_required(self) -> TicketUpdate:
        # null means "leave out" for none of these: a ticket always has them (assignee and team may be null)
        nullable = {"assignee_id", "team_id"}
        nulls = sorted(name for name in self.model_fields_set - nullable if getattr(self, name) is None)
        if nulls:
            raise ValueError(f"{', '.join(nulls)} may not be null; leave a field out to keep it")
        return self


class ActionIn(_Strict):
    """A workflow action: start, wait, resume, resolve, reopen, close (escalate has its own body)."""

    action: Literal["start", "wait", "resume", "resolve", "reopen", "close"]
    reason: str = Field(default="", max_length=2000)


class EscalateIn(_Strict):
    """A manual escalation: always with a reason; to the next tier unless one is named."""

    reason: str = Field(min_length=1, max_length=2000)
    to_tier: int | None = Field(default=None, ge=1, le=9)


class TextIn(_Strict):
    """An internal note or a public reply (sent through the customer's channel)."""

    text: str = Field(min_length=1, max_length=MAX_TEXT)
    subject: str | None = Field(default=None, max_length=300)


class LinkIn(_Strict):
    """A conversation to link to the ticket."""

    conversation_id: int


class CategoryIn(_Strict):
    """An admin-defined category and its escalation tiers."""

    code: str = Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")
    label: str = Field(min_length=1, max_length=120)
    default_priority: Priority = "normal"
    tiers: list[TierIn] = Field(min_length=1, max_length=5)
    active: bool = True

    @field_validator("tiers")
    @classmethod
    def _numbered(cls, tiers: list[TierIn]) -> list[TierIn]:
        if [t.tier for t in tiers] != list(range(1, len(tiers) + 1)):
            raise ValueError("tiers are numbered 1, 2, 3... in order")
        return tiers


class TierIn(_Strict):
    """One escalation tier: its name, the routing queue its tickets go to, whom it notifies."""

    tier: int = Field(ge=1, le=5)
    name: str = Field(min_length=1, max_length=60)
    queue: str | None = Field(default=None, max_length=64)
    notify: list[Literal["assignee", "team_lead", "supervisors"]] = Field(default_factory=list)


class ViewIn(_Strict):
    """A saved ticket list filter."""

    name: str = Field(min_length=1, max_length=80)
    filters: dict[str, str | int | bool] = Field(default_factory=dict, max_length=12)
    shared: bool = False


class SurveyAnswerIn(_Strict):
    """A customer's rating on the survey page."""

    score: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=2000)


CategoryIn.model_rebuild()
