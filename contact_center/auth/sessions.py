"""Login sessions (cookie) and API tokens (bearer); only SHA-256 digests of the secrets are stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from contact_center.db.models import ApiToken, Session, User
from contact_center.errors import NotFound

TOKEN_PREFIX = "cct_"  # noqa: S105 (a visible prefix, not a secret)


def digest(secret: str) -> str:
    """The stored form of a session or token secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


async def open_session(db: AsyncSession, user: User, now: datetime, ttl: timedelta) -> tuple[str, str]:
    """Start a browser session; returns (cookie value, CSRF token)."""
    secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    db.add(
        Session(
            token_hash=digest(secret), user_id=user.id, csrf_token=csrf, created_at=now, expires_at=now + ttl
        )
    )
    await db.execute(delete(Session).where(Session.user_id == user.id, Session.expires_at < now))
    return secret, csrf


async def session_user(db: AsyncSession, secret: str, now: datetime) -> tuple[User, Session] | None:
    """The active user and session behind a cookie value, or None."""
    row = (
        await db.execute(
            select(User, Session)
            .join(Session, Session.user_id == User.id)
            .where(Session.token_hash == digest(secret), Session.expires_at > now, User.is_active.is_(True))
        )
    ).first()
    return (row[0], row[1]) if row else None


async def close_session(db: AsyncSession, secret: str) -> None:
    """Log a browser session out."""
    await db.execute(delete(Session).where(Session.token_hash == digest(secret)))


def csrf_matches(session: Session, presented: str | None) -> bool:
    """Constant-time comparison of the CSRF header with the session's token."""
    return bool(presented) and hmac.compare_digest(session.csrf_token, presented or "")


async def issue_token(db: AsyncSession, user: User, name: str, now: datetime) -> tuple[ApiToken, str]:
    """A new API token for the user; the secret is returned once and never stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=digest(secret), created_at=now)
    db.add(token)
    await db.flush()
    return token, secret


async def token_user(db: AsyncSession, secret: str, now: datetime) -> User | None:
    """The active user behind a bearer token, or None; records when it was last used."""
    row = (
        await db.execute(
            select(User, ApiToken)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(
                ApiToken.token_hash == digest(secret), ApiToken.revoked_at.is_(None), User.is_active.is_(True)
            )
        )
    ).first()
    if row is None:
        return None
    row[1].last_used_at = now
    return row[0]


async def revoke_token(db: AsyncSession, user: User, token_id: int, now: datetime) -> None:
    """Revoke one of the user's own tokens."""
    token = await db.get(ApiToken, token_id)
    if token is None or token.user_id != user.id or token.revoked_at is not None:
        raise NotFound(f"token {token_id} does not exist")
    token.revoked_at = now


async def list_tokens(db: AsyncSession, user: User) -> list[ApiToken]:
    """The user's tokens, revoked ones included."""
    return list(
        (
            await db.execute(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))
        ).scalars()
    )
