"""Wrap-up codes: dispositions (how a contact ended), contact reasons (why the customer came) and away
reasons (why an agent paused). Codes never change and are never deleted, only deactivated, so the
conversations and reports that name them keep their meaning."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.db.models import WrapUpCode
from contact_center.errors import Conflict, NotFound
from contact_center.users import service as users

Kind = Literal["disposition", "contact_reason", "away_reason"]
KINDS: tuple[Kind, ...] = ("disposition", "contact_reason", "away_reason")
CODE_PATTERN = r"^[a-z0-9_]{1,64}$"


class CodeIn(BaseModel):
    """A new code: a stable machine name and the label agents see."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    code: str = Field(pattern=CODE_PATTERN, description="Lower-case letters, digits and _; never changes.")
    label: str = Field(min_length=1, max_length=120)
    position: int | None = Field(default=None, ge=0, le=1_000_000, description="Default: after the last.")


class CodeUpdate(BaseModel):
    """A code's label, place in the list and whether agents see it (the code itself cannot change)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    code: str | None = Field(default=None, pattern=CODE_PATTERN, description="If given, must be the same.")
    label: str = Field(min_length=1, max_length=120)
    position: int | None = Field(default=None, ge=0, le=1_000_000, description="Default: unchanged.")
    active: bool | None = Field(default=None, description="Default: unchanged; true brings a code back.")


def code_json(row: WrapUpCode) -> dict[str, Any]:
    """A code as the API shows it."""
    return {
        "id": row.id,
        "kind": row.kind,
        "code": row.code,
        "label": row.label,
        "position": row.position,
        "active": row.active,
    }


async def active_code(db: AsyncSession, kind: str, code: str) -> WrapUpCode | None:
    """The active code of this kind, or None (unknown or deactivated)."""
    stmt = select(WrapUpCode).where(
        WrapUpCode.kind == kind, WrapUpCode.code == code, WrapUpCode.active.is_(True)
    )
    return (await db.execute(stmt)).scalar_one_or_none()


async def list_codes(db: AsyncSession, kind: str, *, include_inactive: bool = False) -> list[WrapUpCode]:
    """The codes of a kind in the order agents see them (active ones only unless asked)."""
    stmt = select(WrapUpCode).where(WrapUpCode.kind == kind)
    if not include_inactive:
        stmt = stmt.where(WrapUpCode.active.is_(True))
    return list((await db.execute(stmt.order_by(WrapUpCode.position, WrapUpCode.id))).scalars())


async def get_code(db: AsyncSession, kind: str, code_id: int) -> WrapUpCode:
    """A code of this kind by id; NotFound otherwise."""
    row = await db.get(WrapUpCode, code_id)
    if row is None or row.kind != kind:
        raise NotFound(f"{kind} {code_id} does not exist")
    return row


async def create_code(
    db: AsyncSession, kind: str, body: CodeIn, actor_id: int | None, now: datetime
) -> WrapUpCode:
    """Add a code; Conflict if the kind has it already (even deactivated: reactivate that one instead)."""
    existing = (
        await db.execute(select(WrapUpCode).where(WrapUpCode.kind == kind, WrapUpCode.code == body.code))
    ).scalar_one_or_none()
    if existing is not None:
        hint = "" if existing.active else f" (deactivated; bring it back with PUT, id {existing.id})"
        raise Conflict(f"{kind} {body.code!r} exists{hint}", id=existing.id)
    position = body.position
    if position is None:
        last = (
            await db.execute(select(func.max(WrapUpCode.position)).where(WrapUpCode.kind == kind))
        ).scalar_one()
        position = 0 if last is None else last + 1
    row = WrapUpCode(kind=kind, code=body.code, label=body.label, position=position, active=True)
    db.add(row)
    try:
        async with db.begin_nested():
            await db.flush()
    except IntegrityError:
        raise Conflict(f"{kind} {body.code!r} exists") from None
    users.audit(db, actor_id, "wrap_up_code.created", "wrap_up_code", row.id, code_json(row), now)
    return row


async def update_code(
    db: AsyncSession, kind: str, code_id: int, body: CodeUpdate, actor_id: int | None, now: datetime
) -> WrapUpCode:
    """Change a code's label, position or active flag."""
    row = await get_code(db, kind, code_id)
    if body.code is not None and body.code != row.code:
        raise Conflict(f"a code cannot be changed ({row.code!r}); add a new one and deactivate this one")
    row.label = body.label
    if body.position is not None:
        row.position = body.position
    if body.active is not None:
        row.active = body.active
    users.audit(db, actor_id, "wrap_up_code.updated", "wrap_up_code", row.id, code_json(row), now)
    return row


async def deactivate_code(
    db: AsyncSession, kind: str, code_id: int, actor_id: int | None, now: datetime
) -> WrapUpCode:
    """Hide a code from agents; conversations that used it keep it."""
    row = await get_code(db, kind, code_id)
    if row.active:
        row.active = False
        users.audit(
            db,
            actor_id,
            "wrap_up_code.deactivated",
            "wrap_up_code",
            row.id,
            {"kind": kind, "code": row.code},
            now,
        )
    return row
