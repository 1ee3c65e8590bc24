"""Managing users, teams and skills; every administrative change is written to the audit log."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from contact_center.auth.passwords import hash_password
from contact_center.db.models import AuditEntry, Skill, Team, User, UserSkill
from contact_center.errors import Conflict, InvalidInput, NotFound
from contact_center.users.schemas import LANGUAGE_PATTERN, SKILL_PATTERN, TeamIn, TeamPatch, UserIn, UserPatch


async def create_user(db: AsyncSession, data: UserIn, now: datetime, actor_id: int | None = None) -> User:
    """Store a new user with a hashed password; Conflict if the username is taken."""
    if await _username_taken(db, data.username):
        raise Conflict(f"username {data.username!r} is taken")
    if data.team_id is not None:
        await get_team(db, data.team_id)
    user = User(
        username=data.username,
        display_name=data.display_name,
        email=data.email,
        password_hash=hash_password(data.password),
        role=data.role.value,
        team_id=data.team_id,
        languages=_languages(data.languages),
        is_active=True,
        created_at=now,
    )
    db.add(user)
    try:
        await db.flush()
    except IntegrityError:
        raise Conflict(f"username {data.username!r} is taken") from None
    await _set_skills(db, user, data.skills)
    audit(db, actor_id, "user.created", "user", user.id, {"username": user.username, "role": user.role}, now)
    return await get_user(db, user.id)


async def get_user(db: AsyncSession, user_id: int) -> User:
    """A user with skills loaded."""
    user = (
        await db.execute(select(User).where(User.id == user_id).options(selectinload(User.skills)))
    ).scalar_one_or_none()
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return user


async def user_by_username(db: AsyncSession, username: str) -> User | None:
    """The user with this username (case-insensitive), or None."""
    return (
        await db.execute(select(User).where(User.username == username.strip().lower()))
    ).scalar_one_or_none()


async def list_users(db: AsyncSession, team_id: int | None = None) -> list[User]:
    """Every user (of one team when given), with skills."""
    query = select(User).options(selectinload(User.skills)).order_by(User.id)
    if team_id is not None:
        query = query.where(User.team_id == team_id)
    return list((await db.execute(query)).scalars())


async def update_user(
    db: AsyncSession, user_id: int, patch: UserPatch, now: datetime, actor_id: int | None = None
) -> User:
    """Apply the given changes; the password is never written to the audit."""
    user = await get_user(db, user_id)
    changed: dict[str, Any] = {}
    for field in patch.model_fields_set - {"password", "skills"}:
        new = getattr(patch, field)
        if field == "role" and new is not None:
            new = new.value
        if field == "team_id" and new is not None:
            await get_team(db, new)
        if field == "languages" and new is not None:
            new = _languages(new)
        if field in {"display_name", "role", "languages", "is_active"} and new is None:
            continue
        if getattr(user, field) != new:
            changed[field] = [getattr(user, field), new]
            setattr(user, field, new)
    if patch.password is not None:
        user.password_hash = hash_password(patch.password)
        changed["password"] = "changed"  # noqa: S105 (records that it changed, never the value)
    if patch.skills is not None:
        await _set_skills(db, user, patch.skills)
        changed["skills"] = patch.skills
    if changed:
        audit(db, actor_id, "user.updated", "user", user.id, changed, now)
    await db.flush()
    return await get_user(db, user.id)


async def create_team(db: AsyncSession, data: TeamIn, now: datetime, actor_id: int | None = None) -> Team:
    """Store a new team; Conflict if the name is taken."""
    if (await db.execute(select(Team.id).where(func.lower(Team.name) == data.name.lower()))).first():
        raise Conflict(f"team {data.name!r} exists")
    team = Team(name=data.name, description=data.description, created_at=now)
    db.add(team)
    await db.flush()
    audit(db, actor_id, "team.created", "team", team.id, {"name": team.name}, now)
    return team


async def update_team(
    db: AsyncSession, team_id: int, patch: TeamPatch, now: datetime, actor_id: int | None = None
) -> Team:
    """Rename or describe a team."""
    team = await get_team(db, team_id)
    if patch.name and patch.name != team.name:
        if (await db.execute(select(Team.id).where(func.lower(Team.name) == patch.name.lower()))).first():
            raise Conflict(f"team {patch.name!r} exists")
        team.name = patch.name
    if patch.description is not None:
        team.description = patch.description
    audit(db, actor_id, "team.updated", "team", team.id, patch.model_dump(exclude_unset=True), now)
    await db.flush()
    return team


async def get_team(db: AsyncSession, team_id: int) -> Team:
    """One team."""
    team = await db.get(Team, team_id)
    if team is None:
        raise NotFound(f"team {team_id} does not exist")
    return team


async def list_teams(db: AsyncSession) -> list[Team]:
    """Every team."""
    return list((await db.execute(select(Team).order_by(Team.name))).scalars())


async def list_skills(db: AsyncSession) -> list[Skill]:
    """Every skill."""
    return list((await db.execute(select(Skill).order_by(Skill.name))).scalars())


def audit(
    db: AsyncSession,
    actor_id: int | None,
    action: str,
    target_type: str,
    target_id: object,
    details: dict[str, Any],
    now: datetime,
) -> None:
    """Record an administrative action."""
    db.add(
        AuditEntry(
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=str(target_id),
            details=details,
            created_at=now,
        )
    )


async def audit_log(db: AsyncSession, limit: int = 200) -> list[AuditEntry]:
    """The newest administrative actions."""
    return list((await db.execute(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit))).scalars())


async def _username_taken(db: AsyncSession, username: str) -> bool:
    return (await db.execute(select(User.id).where(User.username == username))).first() is not None


async def _set_skills(db: AsyncSession, user: User, skills: dict[str, int]) -> None:
    for name, level in skills.items():
        if not re.match(SKILL_PATTERN, name):
            raise InvalidInput(f"skill name {name!r} may hold only lower-case letters, digits, _ and -")
        if not isinstance(level, int) or not 1 <= level <= 10:
            raise InvalidInput(f"skill {name!r}: level must be a whole number from 1 to 10")
    existing = {
        s.name: s for s in (await db.execute(select(Skill).where(Skill.name.in_(list(skills))))).scalars()
    }
    for name in skills.keys() - existing.keys():
        skill = Skill(name=name)
        db.add(skill)
        existing[name] = skill
    await db.flush()
    current = (await db.execute(select(UserSkill).where(UserSkill.user_id == user.id))).scalars().all()
    for row in current:
        await db.delete(row)
    await db.flush()
    for name, level in skills.items():
        db.add(UserSkill(user_id=user.id, skill_id=existing[name].id, level=level))
    await db.flush()


def _languages(values: list[str]) -> list[str]:
    result = []
    for value in values:
        code = value.strip().lower()
        if not re.match(LANGUAGE_PATTERN, code):
            raise InvalidInput(f"{value!r} is not a language code such as en or pt-br")
        if code not in result:
            result.append(code)
    return result
