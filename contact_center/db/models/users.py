"""Users, teams, skills, login sessions, API tokens and the audit log of administrative actions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from contact_center.db.base import Base, JSONType, UTCDateTime

DEFAULT_CAPACITY = {"voice": 1, "chat": 3, "email": 5, "sms": 3}


class Team(Base):
    """A group of users with a lead."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", use_alter=True, name="fk_teams_lead_id_users")
    )


class User(Base):
    """Someone who logs in: an agent, a supervisor or an admin."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    languages: Mapped[list[str]] = mapped_column(JSONType, default=list)
    capacity: Mapped[dict[str, int]] = mapped_column(
        JSONType,
        default=lambda: dict(DEFAULT_CAPACITY),
        server_default='{"voice": 1, "chat": 3, "email": 5, "sms": 3}',
    )
    queues: Mapped[list[str] | None] = mapped_column(JSONType)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    phone: Mapped[str | None] = mapped_column(String(32))
    # {"channels": ["console", "email", "sms"], "quiet_hours": {"start": "22:00", "end": "07:00"},
    #  "timezone": "Europe/London"}; empty means console and email, no quiet hours
    notify: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, server_default="{}")

    skills: Mapped[list[UserSkill]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="UserSkill.skill_id"
    )

    __table_args__ = (CheckConstraint("role IN ('agent', 'supervisor', 'admin')", name="role"),)


class Skill(Base):
    """A named skill agents can hold and queues can require."""

    __tablename__ = "skills"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class UserSkill(Base):
    """A user's level (1-10) in a skill."""

    __tablename__ = "user_skills"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    skill_id: Mapped[int] = mapped_column(ForeignKey("skills.id"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer)

    skill: Mapped[Skill] = relationship(lazy="joined")

    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 10", name="level_range"),)


class Session(Base):
    """A browser login; only the SHA-256 of the cookie value is stored."""

    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiToken(Base):
    """A bearer token for an API client; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """An administrative action (user created, role changed, token issued...)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
