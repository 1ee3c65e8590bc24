"""Fixtures with real services: every database test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from contact_center.clock import ManualClock
from contact_center.customers.context import CustomerContext
from contact_center.db.base import Base
from contact_center.db.engine import create_engine, session_factory
from contact_center.db.migrate import upgrade
from tests.services import POSTGRES_URL, postgres_problem, require

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


def _migrate(url: str) -> None:
    async def run() -> None:
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(run())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    _migrate(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test run, dropped at the end."""
    require(postgres_problem())
    import asyncpg

    name = f"cc_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin_dsn = POSTGRES_URL.replace("postgresql+asyncpg", "postgresql")

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(admin_dsn)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    _migrate(url)
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty migrated database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "cc.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    url = request.getfixturevalue("postgres_database")
    _truncate_postgres(url)
    return url


def _truncate_postgres(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)

    async def run() -> None:
        engine = create_engine(url)
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        await engine.dispose()

    asyncio.run(run())


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the test database."""
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The session factory the services use."""
    return session_factory(engine)


@pytest.fixture
def clock() -> ManualClock:
    """A clock that only moves when the test says so."""
    return ManualClock()


@pytest.fixture
def ctx(clock: ManualClock) -> CustomerContext:
    """Customer services' context with the manual clock and region US."""
    return CustomerContext(clock=clock, default_region="US")


@pytest.fixture
def settings(database_url: str, tmp_path: Path):
    """Settings for an app on the test database."""
    from contact_center.settings import load_settings

    return load_settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        secret_key="test-secret-key",
        public_url="http://testserver",
    )


@pytest.fixture
async def client(aiohttp_client, settings, clock):
    """A real HTTP client talking to the whole application."""
    from contact_center.app import create_app

    return await aiohttp_client(create_app(settings, clock=clock, tick_interval=None))


@pytest.fixture
async def staff(sessions, clock) -> dict[str, dict]:
    """One active user per role, each with a bearer token: {"agent": {"id", "token", "username"}, ...}."""
    from contact_center.auth.sessions import issue_token
    from contact_center.users import service
    from contact_center.users.schemas import TeamIn, UserIn

    result = {}
    async with sessions.begin() as db:
        team = await service.create_team(db, TeamIn(name="Front line"), clock.now())
        for role in ("agent", "supervisor", "admin"):
            user = await service.create_user(
                db,
                UserIn(
                    username=role,
                    display_name=role.title(),
                    password=f"{role}-password-1",
                    role=role,
                    team_id=team.id,
                ),
                clock.now(),
            )
            _, secret = await issue_token(db, user, "tests", clock.now())
            result[role] = {
                "id": user.id,
                "token": secret,
                "username": role,
                "password": f"{role}-password-1",
            }
    return result


def bearer(token: str) -> dict[str, str]:
    """Authorization header for a bearer token."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def twilio(aiohttp_server):
    """The local stand-in for Twilio's REST API, serving; `twilio.base_url` is where it listens."""
    from tests.twilio_standin import TwilioStandIn

    standin = TwilioStandIn()
    server = await aiohttp_server(standin.app())
    standin.base_url = str(server.make_url("")).rstrip("/")
    return standin


@pytest.fixture
def twilio_settings(settings, twilio):
    """Settings with Twilio configured and its REST API pointed at the stand-in."""
    from urllib.parse import urlsplit

    from pydantic import SecretStr

    from tests.twilio_standin import ACCOUNT_SID, AUTH_TOKEN, OUR_NUMBER, PUBLIC_URL

    return settings.model_copy(
        update={
            "twilio_account_sid": ACCOUNT_SID,
            "twilio_auth_token": SecretStr(AUTH_TOKEN),
            "twilio_phone_number": OUR_NUMBER,
            "twilio_api_base_url": twilio.base_url,
            "twilio_media_hosts": urlsplit(twilio.base_url).hostname,
            "public_url": PUBLIC_URL,
        }
    )


@pytest.fixture
async def twilio_client(aiohttp_client, twilio_settings, clock):
    """A real HTTP client talking to the whole application, with Twilio configured (the stand-in)."""
    from contact_center.app import create_app

    return await aiohttp_client(create_app(twilio_settings, clock=clock, tick_interval=None))


def another_process(settings, name: str = "other-process"):
    """The same settings for another process: the same database and Redis, a data directory of its own
    (as every process needs, for its webhook inbox)."""
    return settings.model_copy(update={"data_dir": settings.data_dir.parent / name})
