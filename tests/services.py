"""Reaching the real PostgreSQL and Redis servers the tests use.

In CI (CI=true) a missing server fails the run; elsewhere the tests that need it are skipped with the reason.
"""

from __future__ import annotations

import asyncio
import os
from functools import cache

import pytest

POSTGRES_URL = os.environ.get("CC_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CC_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@cache
def postgres_problem() -> str | None:
    """None when PostgreSQL answers, else why not."""
    import asyncpg

    async def probe() -> None:
        connection = await asyncpg.connect(
            POSTGRES_URL.replace("postgresql+asyncpg", "postgresql"), timeout=3
        )
        await connection.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        return f"PostgreSQL at {POSTGRES_URL} is not reachable: {exc!r}"
    return None


@cache
def redis_problem() -> str | None:
    """None when Redis answers, else why not."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:
        return f"Redis at {REDIS_URL} is not reachable: {exc!r}"
    return None


def require(problem: str | None) -> None:
    """Skip (locally) or fail (in CI) when a server is missing."""
    if problem is None:
        return
    if IN_CI:
        pytest.fail(f"{problem} (CI=true: service tests must run, not skip)")
    pytest.skip(problem)
