"""Validated input for users and teams."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from contact_center.auth.passwords import MIN_PASSWORD_LENGTH
from contact_center.auth.roles import Role

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._\-]{1,63}$"
LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
SKILL_PATTERN = r"^[a-z0-9][a-z0-9_\-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class UserIn(_Strict):
    """A new user."""

    username: str = Field(pattern=USERNAME_PATTERN, description="Lower-case letters, digits, . _ -")
    display_name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=200)
    role: Role = Role.AGENT
    email: str | None = Field(default=None, max_length=320)
    team_id: int | None = Field(default=None, ge=1)
    languages: list[str] = Field(default_factory=list, max_length=20)
    skills: dict[str, int] = Field(
        default_factory=dict, max_length=50, description="Skill name to level 1-10."
    )


class UserPatch(_Strict):
    """Changes to a user; fields left out stay as they are."""

    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    password: str | None = Field(default=None, min_length=MIN_PASSWORD_LENGTH, max_length=200)
    role: Role | None = None
    email: str | None = Field(default=None, max_length=320)
    team_id: int | None = Field(default=None, ge=1)
    languages: list[str] | None = Field(default=None, max_length=20)
    skills: dict[str, int] | None = Field(default=None, max_length=50)
    is_active: bool | None = None


class TeamIn(_Strict):
    """A new team."""

    name: str = Field(min_length=1, max_length=64)
    description: str = Field(default="", max_length=300)


class TeamPatch(_Strict):
    """Changes to a team."""

    name: str | None = Field(default=None, min_length=1, max_length=64)
    description: str | None = Field(default=None, max_length=300)
